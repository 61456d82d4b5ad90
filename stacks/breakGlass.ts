import { defaults } from "../components/core/defaults";
import { check } from "../components/core/errors";
import { annotations } from "../components/core/labels";

/**
 * Break-glass: a fast, audited, time-bound exception. While an entry is active, the guardrails of
 * its namespaces warn instead of deny and automated sync of its Applications is paused, so a live
 * hotfix is neither rejected nor reverted mid-incident. Once it expires, every preview and up fails
 * until the fix is back-ported to Git and the entry removed: the exception cannot quietly become
 * permanent drift.
 */
export interface BreakGlassEntry {
    /** Services whose namespaces and Applications are affected. */
    readonly services: readonly string[];
    /** Environments affected. @default every environment of those services */
    readonly environments?: readonly string[];
    readonly reason: string;
    /** Incident or change ticket, e.g. INC-4711. */
    readonly ticket: string;
    readonly requestedBy: string;
    /** When the exception was granted (ISO-8601). */
    readonly requestedAt: string;
    /** When it ends (ISO-8601), at most `maxHours` after `requestedAt`. */
    readonly expires: string;
}

export interface BreakGlassPolicy {
    /** Longest allowed exception. @default {@link defaults.breakGlassMaxHours} */
    readonly maxHours: number;
    /** After expiry: `fail` stops every preview/up; `revert` drops the exception with a warning. @default {@link defaults.breakGlassOnExpiry} */
    readonly onExpiry: "fail" | "revert";
}

/** A break-glass entry with its state at evaluation time. */
export interface BreakGlassStatus {
    readonly entry: BreakGlassEntry;
    readonly state: "active" | "expired";
    /** Hours until expiry (negative: overdue). */
    readonly hoursLeft: number;
}

export const ticketPattern = /^[A-Z][A-Z0-9]+-[0-9]+$/;
const iso8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

function parseTime(value: string, field: string): number {
    check(iso8601.test(value) && !Number.isNaN(Date.parse(value)), field, `is "${value}", not an ISO-8601 time with zone`, 'write it like "2026-11-24T18:00:00Z"');
    return Date.parse(value);
}

/** Validates every entry and classifies it as active or expired at `now`. */
export function evaluateBreakGlass(
    entries: readonly BreakGlassEntry[],
    policy: BreakGlassPolicy,
    knownServices: ReadonlySet<string>,
    now: Date,
    field: string,
): BreakGlassStatus[] {
    const tickets = new Map<string, number>();
    return entries.map((entry, i) => {
        const f = `${field}[${i}]`;
        const earlier = tickets.get(entry.ticket);
        check(
            earlier === undefined,
            `${f}.ticket`,
            `repeats "${entry.ticket}" of \`${field}[${earlier}]\``,
            "merge the two entries into one (list all services in it), or use the ticket of the second incident",
        );
        tickets.set(entry.ticket, i);
        check(entry.services.length > 0, `${f}.services`, "is empty", "name the services the hotfix touches");
        entry.services.forEach((s, j) =>
            check(knownServices.has(s), `${f}.services[${j}]`, `is "${s}", which is not a service of this stack`, "use a name from `gitops-control:services`"),
        );
        check(ticketPattern.test(entry.ticket), `${f}.ticket`, `is "${entry.ticket}"`, "reference the incident or change ticket, e.g. INC-4711");
        check(entry.reason.trim().length >= 10, `${f}.reason`, "is too short to audit", "say what is broken and what the hotfix does (10+ characters)");
        check(entry.requestedBy.trim() !== "", `${f}.requestedBy`, "is empty", "name the person who pulled the break-glass");
        const requested = parseTime(entry.requestedAt, `${f}.requestedAt`);
        const expires = parseTime(entry.expires, `${f}.expires`);
        check(requested <= now.getTime() + 5 * 60_000, `${f}.requestedAt`, `is in the future (${entry.requestedAt})`, "use the time the exception was granted");
        check(expires > requested, `${f}.expires`, `is not after requestedAt (${entry.expires} ≤ ${entry.requestedAt})`, "set an expiry after the request time");
        const hours = (expires - requested) / 3_600_000;
        check(
            hours <= policy.maxHours,
            `${f}.expires`,
            `is ${hours.toFixed(1)} h after requestedAt, more than the ${policy.maxHours} h allowed`,
            `shorten it; renew with a new entry if the incident is still open`,
        );
        const hoursLeft = (expires - now.getTime()) / 3_600_000;
        return { entry, state: hoursLeft > 0 ? "active" : "expired", hoursLeft: Math.round(hoursLeft * 10) / 10 };
    });
}

/** The message that stops the program after expiry. */
export function expiredMessage(status: BreakGlassStatus, field: string): string {
    const e = status.entry;
    return `break-glass expired: back-port the fix to Git, then remove the entry. \`${field}\` (${e.ticket}, ${e.services.join(", ")}) expired at ${e.expires}, ${Math.abs(status.hoursLeft)} h ago`;
}

/** Audit annotations carried by every object an active entry changes. */
export function breakGlassAnnotations(entry: BreakGlassEntry): Record<string, string> {
    return {
        [annotations.breakGlassReason]: entry.reason,
        [annotations.breakGlassTicket]: entry.ticket,
        [annotations.breakGlassExpires]: entry.expires,
        [annotations.breakGlassRequestedBy]: entry.requestedBy,
    };
}

/** Does the entry cover this service in this environment? */
export function covers(entry: BreakGlassEntry, service: string, environment: string): boolean {
    return entry.services.includes(service) && (entry.environments === undefined || entry.environments.includes(environment));
}

/** Reconcile debt: break-glass exceptions still open, and those past their expiry. */
export interface ReconcileDebt {
    readonly active: readonly { ticket: string; services: readonly string[]; expires: string; hoursLeft: number }[];
    readonly overdue: readonly { ticket: string; services: readonly string[]; expires: string; hoursOverdue: number }[];
}

/** The stack config break-glass reads. */
export interface BreakGlassConfig {
    readonly breakGlass: readonly BreakGlassEntry[];
    readonly breakGlassPolicy: Partial<BreakGlassPolicy>;
}

/**
 * Validates the break-glass entries (`field` names the stack key) and classifies them at `now`.
 * Expired entries stop the program (`onExpiry: fail`, the default) or are dropped with a warning
 * (`revert`).
 */
export function breakGlassStatus(
    config: BreakGlassConfig,
    serviceNames: ReadonlySet<string>,
    now: Date,
    field: string,
    warn: (message: string) => void = () => undefined,
): BreakGlassStatus[] {
    const onExpiry = config.breakGlassPolicy.onExpiry ?? defaults.breakGlassOnExpiry;
    const statuses = evaluateBreakGlass(config.breakGlass, { maxHours: config.breakGlassPolicy.maxHours ?? defaults.breakGlassMaxHours, onExpiry }, serviceNames, now, field);
    statuses.forEach((status, i) => {
        if (status.state !== "expired") return;
        const message = expiredMessage(status, `${field}[${i}]`);
        check(onExpiry !== "fail", `${field}[${i}].expires`, `has passed: ${message}`, "back-port the fix to Git, then remove the entry");
        warn(`${message} (reverted automatically: guardrails and automated sync are back)`);
    });
    return statuses;
}

/** The reconcile-debt stack output. */
export function reconcileDebt(statuses: readonly BreakGlassStatus[]): ReconcileDebt {
    return {
        active: statuses.filter((s) => s.state === "active").map((s) => ({ ticket: s.entry.ticket, services: s.entry.services, expires: s.entry.expires, hoursLeft: s.hoursLeft })),
        overdue: statuses
            .filter((s) => s.state === "expired")
            .map((s) => ({ ticket: s.entry.ticket, services: s.entry.services, expires: s.entry.expires, hoursOverdue: -s.hoursLeft })),
    };
}
