// How a new alert gets an officer's attention: its card and marker flash, the page's title counts the
// alerts not yet seen, a screen reader hears it, and a short tone sounds unless muted. Browsers only let
// audio start after a user gesture: the page says so and offers the click.

import { announcement, titleWithUnseen } from "./live_format.js";

const FLASH_MS = 6000;
const BEEP_MIN_GAP_S = 1.5; // a burst of alerts gets one cue, not a wall of noise
const MUTE_KEY = "peacewatch.liveMap.muted";

export function readMuted() {
  try {
    return window.localStorage.getItem(MUTE_KEY) === "1";
  } catch (error) {
    return false; // storage disabled: default to sound on, the safe side for alerts
  }
}

function saveMuted(muted) {
  try {
    window.localStorage.setItem(MUTE_KEY, muted ? "1" : "0");
  } catch (error) {
    /* not persisted; the toggle still works for this page */
  }
}

/** `dom`: mute, soundPrompt, announcer; `state`: flashing, unseen, muted; `reconcile(ids)` redraws an alert. */
export function createCues({ dom, state, reconcile }) {
  const baseTitle = document.title;
  // The context is created (or resumed) on the first click or key press; beeps before that are lost.
  let audio = null;
  let lastBeepAt = -Infinity;

  function startFlash(id) {
    clearTimeout(state.flashing.get(id));
    state.flashing.set(
      id,
      setTimeout(() => {
        state.flashing.delete(id);
        reconcile([id]);
      }, FLASH_MS)
    );
  }

  function announce(alerts) {
    state.unseen += alerts.length;
    updateTitle();
    beep();
    dom.announcer.textContent = announcement(alerts);
  }

  function updateTitle() {
    document.title = titleWithUnseen(baseTitle, state.unseen);
  }

  function markSeen() {
    if (!state.unseen) return;
    state.unseen = 0;
    updateTitle();
  }

  function unlockAudio() {
    const AudioCtx = window.AudioContext || window.webkitAudioContext;
    if (!AudioCtx) return;
    if (!audio) {
      try {
        audio = new AudioCtx();
      } catch (error) {
        return;
      }
      audio.addEventListener("statechange", renderSoundPrompt);
    }
    if (audio.state === "suspended") audio.resume().then(renderSoundPrompt, () => {});
    renderSoundPrompt();
  }

  /** Until a click or key press, the browser keeps the page silent: say so, and offer the click. */
  function renderSoundPrompt() {
    if (!dom.soundPrompt) return;
    dom.soundPrompt.hidden = state.muted || (audio !== null && audio.state === "running");
  }

  function beep() {
    if (state.muted || !audio || audio.state !== "running") return;
    const now = audio.currentTime;
    if (now - lastBeepAt < BEEP_MIN_GAP_S) return;
    lastBeepAt = now;
    tone(880, now, 0.14);
    tone(660, now + 0.18, 0.18);
  }

  function tone(frequency, start, duration) {
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = "sine";
    oscillator.frequency.value = frequency;
    // Short attack and decay: a hard start/stop clicks.
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.3, start + 0.015);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + duration);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(start);
    oscillator.stop(start + duration + 0.02);
  }

  function renderMute() {
    dom.mute.setAttribute("aria-pressed", state.muted ? "true" : "false");
    dom.mute.textContent = state.muted ? "Unmute" : "Mute";
  }

  function toggleMute() {
    state.muted = !state.muted;
    saveMuted(state.muted);
    renderMute();
    renderSoundPrompt();
  }

  function onUserGesture() {
    unlockAudio();
    markSeen(); // someone is at the keyboard: the new alerts have been seen
  }

  function render() {
    renderMute();
    renderSoundPrompt();
  }

  function bind() {
    dom.mute.addEventListener("click", toggleMute);
    document.addEventListener("pointerdown", onUserGesture, true);
    document.addEventListener("keydown", onUserGesture, true);
    window.addEventListener("focus", markSeen);
    if (dom.soundPrompt) dom.soundPrompt.addEventListener("click", onUserGesture);
  }

  return { startFlash, announce, render, bind };
}
