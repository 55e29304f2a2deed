/**
 * @module registration/abort
 *
 * The manager's cancellation helpers now live in `src/cancellation.ts`, beside the transport's
 * time limits; this file only keeps their old import path working for the files that still use
 * it. New code imports `../cancellation.js`; the file goes when nothing imports it any more.
 */
export {
  anySignal,
  asPoetError,
  CANCELLED,
  DEADLINE_PASSED,
  isAbort,
  sleepUntil,
  TASK_SETTLED,
  withTimeout,
} from "../cancellation.js";
