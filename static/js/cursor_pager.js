/*
 * PeaceWatch — paging by cursor through an answer, shared by the analysts' query page and the
 * citizen timeline. Pure but for syncButtons, which takes the two buttons and where focus falls back.
 */

/**
 * Cursor paging: `cursors[i]` is the `after` that fetched page i+1 (null for the
 * first page); `next` is the current page's `next`. Moving is two steps, so a
 * failed request leaves the pager where it was: ask for the target cursor,
 * fetch, then `landed(direction, page.next)`. Only one page is ever held, so a
 * million matching reports cost one page of memory.
 */
export class CursorPager {
  constructor() {
    this.reset();
  }
  reset() {
    this.cursors = [null];
    this.next = null;
  }
  get page() {
    return this.cursors.length;
  }
  get current() {
    return this.cursors[this.cursors.length - 1];
  }
  get hasPrevious() {
    return this.cursors.length > 1;
  }
  get hasNext() {
    return !!this.next;
  }
  target(direction) {
    if (direction > 0) return this.next;
    if (direction < 0) return this.cursors.length > 1 ? this.cursors[this.cursors.length - 2] : null;
    return this.current;
  }
  landed(direction, next) {
    if (direction > 0) this.cursors.push(this.next);
    else if (direction < 0 && this.cursors.length > 1) this.cursors.pop();
    this.next = next || null;
  }
  /**
   * Enable the Previous/Next buttons as the pager allows. A button that gets
   * disabled while focused would drop keyboard focus to the page's start, so
   * focus moves to the other button if it still works, else to `fallback`.
   */
  syncButtons(prev, next, fallback) {
    const focused = document.activeElement;
    prev.disabled = !this.hasPrevious;
    next.disabled = !this.hasNext;
    if (focused && focused.disabled && (focused === prev || focused === next)) {
      const other = focused === prev ? next : prev;
      if (!other.disabled) other.focus();
      else fallback.focus();
    }
  }
}
