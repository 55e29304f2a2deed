/** Counts event-loop turns (one per check phase) until stopped: structural yielding checks. */
export function turnCounter(): { readonly turn: number; stop: () => void } {
  let turn = 0;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    turn++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get turn() {
      return turn;
    },
    stop: () => {
      stopped = true;
    },
  };
}
