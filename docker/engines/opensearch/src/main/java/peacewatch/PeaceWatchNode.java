package peacewatch;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.geo.GeoModulePlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * One OpenSearch node in this JVM, with the modules PeaceWatch needs loaded from the classpath
 * (the Maven jars have no usable main: the distribution's Bootstrap expects a tarball layout).
 *
 * Settings come as arguments {@code -Ekey=value}, like the distribution's launcher; logging from
 * {@code <path.home>/config/log4j2.properties}. Runs until
 * SIGTERM/SIGINT, then closes the node (flushes shards) before the JVM exits.
 */
public final class PeaceWatchNode {

    /** Node's constructor that accepts classpath plugins is protected. */
    static final class ClasspathNode extends Node {
        ClasspathNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
            super(env, plugins, true);
        }
    }

    static final List<Class<? extends Plugin>> PLUGINS = List.of(
        Netty4Plugin.class,          // HTTP and transport
        GeoModulePlugin.class,       // geotile_grid, geohash_grid, geo_bounds aggregations
        CommonAnalysisPlugin.class   // analyzers/tokenizers/filters beyond "standard"
    );

    public static void main(String[] args) throws Exception {
        Settings.Builder builder = Settings.builder();
        for (String arg : args) {
            if (!arg.startsWith("-E") || arg.indexOf('=') < 0) {
                throw new IllegalArgumentException("expected -Ekey=value, got: " + arg);
            }
            int eq = arg.indexOf('=');
            builder.put(arg.substring(2, eq), arg.substring(eq + 1));
        }
        Settings input = builder.build();
        LogConfigurator.registerErrorListener();
        Environment env = InternalSettingsPreparer.prepareEnvironment(input, Map.of(), null, () -> "peacewatch");
        LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(env.settings()));
        // Reads <path.home>/config/log4j2.properties (start.sh puts it there).
        LogConfigurator.configure(env);

        try {
            Node node = new ClasspathNode(env, PLUGINS);
            CountDownLatch closed = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    node.close();
                    node.awaitClose(20, TimeUnit.SECONDS);
                } catch (Exception e) {
                    e.printStackTrace();
                } finally {
                    closed.countDown();
                }
            }, "peacewatch-shutdown"));
            node.start();
            // OpenSearch's own threads are daemons: this one keeps the JVM up until the hook ran.
            Thread keepAlive = new Thread(() -> {
                try {
                    closed.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "peacewatch-keepalive");
            keepAlive.setDaemon(false);
            keepAlive.start();
        } catch (Throwable t) {
            t.printStackTrace();
            System.exit(1);
        }
    }
}
