/**
 * @module cli/ics
 *
 * An iCalendar (RFC 5545) file of PoET rounds, so that an operator sees registration deadlines
 * and cycle gaps in the calendar app they already use (docs/concepts.md). Per RFC 5545: lines end
 * in CRLF (§3.1) and are folded at 75 octets with CRLF + space, never inside a UTF-8 sequence; text
 * values escape `\`, `;`, `,` and newlines (§3.3.11); all times are UTC date-times with a `Z`
 * (§3.3.5 form 2), so no VTIMEZONE is needed. UIDs are stable per round, phase and kind, so
 * importing a newer file updates the same events instead of duplicating them.
 */
import type { RoundSchedule, RoundTimes } from "../schedule/index.js";

/** One calendar event. */
export interface CalendarEvent {
  uid: string;
  summary: string;
  description: string;
  start: Date;
  /** Omitted for an instant (a deadline). */
  end?: Date;
  /** Minutes before `start` at which to remind, if any. */
  alarmMinutesBefore?: number;
}

/** `20240916T080000Z`. */
export function icsDateTime(at: Date): string {
  return at
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "");
}

/** Escapes a TEXT value (RFC 5545 §3.3.11). */
export function icsText(text: string): string {
  return text
    .replace(/\\/g, "\\\\")
    .replace(/;/g, "\\;")
    .replace(/,/g, "\\,")
    .replace(/\r?\n/g, "\\n");
}

/** Folds one content line at 75 octets (RFC 5545 §3.1), each continuation starting with a space. */
export function foldLine(line: string): string {
  const encoder = new TextEncoder();
  const parts: string[] = [];
  let current = "";
  let octets = 0;
  let limit = 75;
  for (const ch of line) {
    const size = encoder.encode(ch).length;
    if (octets + size > limit) {
      parts.push(current);
      current = "";
      octets = 0;
      limit = 74; // the leading space of a continuation line counts
    }
    current += ch;
    octets += size;
  }
  parts.push(current);
  return parts.join("\r\n ");
}

/** Serialises `events` as a complete VCALENDAR with CRLF line ends. */
export function buildCalendar(
  events: readonly CalendarEvent[],
  options: { name: string; stamp: Date },
): string {
  const lines = [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//spacemesh-poet-client//poet-client schedule//EN",
    "CALSCALE:GREGORIAN",
    "METHOD:PUBLISH",
    `X-WR-CALNAME:${icsText(options.name)}`,
  ];
  const stamp = icsDateTime(options.stamp);
  for (const event of events) {
    lines.push(
      "BEGIN:VEVENT",
      `UID:${event.uid}`,
      `DTSTAMP:${stamp}`,
      `DTSTART:${icsDateTime(event.start)}`,
    );
    if (event.end !== undefined) lines.push(`DTEND:${icsDateTime(event.end)}`);
    lines.push(
      `SUMMARY:${icsText(event.summary)}`,
      `DESCRIPTION:${icsText(event.description)}`,
      "TRANSP:TRANSPARENT",
    );
    if (event.alarmMinutesBefore !== undefined) {
      lines.push(
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        `DESCRIPTION:${icsText(event.summary)}`,
        `TRIGGER:-PT${event.alarmMinutesBefore}M`,
        "END:VALARM",
      );
    }
    lines.push("END:VEVENT");
  }
  lines.push("END:VCALENDAR");
  return `${lines.map(foldLine).join("\r\n")}\r\n`;
}

/**
 * The calendar events of the rounds `rounds` of `schedule`: each round's registration window (with
 * a reminder an hour before it closes), its cycle gap, and its proof deadline.
 */
export function roundEvents(
  schedule: RoundSchedule,
  rounds: readonly RoundTimes[],
  label: string,
): CalendarEvent[] {
  const phase = `${schedule.phaseShiftMs}-${schedule.cycleGapMs}`;
  const uid = (round: number, kind: string) =>
    `poet-round-${round}-${kind}-${schedule.genesis.getTime()}-${phase}@spacemesh-poet-client`;
  const events: CalendarEvent[] = [];
  for (const r of rounds) {
    events.push(
      {
        uid: uid(r.round, "registration"),
        summary: `${label}: register for PoET round ${r.round}`,
        description:
          `Registration for PoET round ${r.round} (ATX publish epoch ${r.publishEpoch}) is open ` +
          `until ${r.registrationDeadline.toISOString()}, when the round starts. A challenge ` +
          "registered later lands in the next round, one epoch later.",
        start: r.registrationOpens,
        end: r.registrationDeadline,
        alarmMinutesBefore: 60,
      },
      {
        uid: uid(r.round, "cycle-gap"),
        summary: `${label}: round ${r.round} ends, cycle gap (PoST and ATX)`,
        description:
          `PoET round ${r.round} ends at ${r.roundEnd.toISOString()} and its proof is published ` +
          "within seconds. In the cycle gap the node fetches the proof, runs PoST, publishes its " +
          `ATX for epoch ${r.publishEpoch} and registers its next challenge before round ` +
          `${r.round + 1} starts at ${r.cycleGapEnd.toISOString()}.`,
        start: r.roundEnd,
        end: r.cycleGapEnd,
      },
      {
        uid: uid(r.round, "proof-deadline"),
        summary: `${label}: proof deadline of round ${r.round}`,
        description:
          `Last moment to obtain the proof of round ${r.round}; the publish epoch ` +
          `${r.publishEpoch} ends at ${r.publishEpochEnd.toISOString()}.`,
        start: r.proofDeadline,
      },
    );
  }
  return events;
}
