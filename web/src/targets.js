// The scrape status of each target when pulse scrapes several LiteLLM
// processes: one entry per target of /health's `targets` (the server's
// state; freshness is the core's rule, decided there, not here).

/**
 * One entry per target (name, status, last success, last error, …) in the
 * shape of the dashboard's scrape status list, or `null` when pulse scrapes
 * a single target (the list then shows the fleet-wide status alone).
 * Targets no longer listed (gone from DNS) come last, as `unlisted`.
 */
export function fleetTargets(health) {
  const targets = health?.targets;
  if (!Array.isArray(targets) || targets.length < 2) return null;
  const entries = targets.map((t) => ({
    name: t.instance,
    status: targetStatus(t),
    fresh: t.fresh ?? null,
    staleAfter: health.stale_after ?? null,
    interval: health.scrape_interval ?? null,
    lastSuccess: t.last_success ?? null,
    lastAttempt: t.last_attempt ?? null,
    failures: t.consecutive_failures ?? 0,
    error: t.last_error ?? null,
  }));
  const rank = (e) => (e.status === "unlisted" ? 1 : 0);
  return entries.sort((a, b) => rank(a) - rank(b));
}

/** A target's state word: the same words as the fleet's, plus `unlisted`. */
export function targetStatus(t) {
  if (t.listed === false) return "unlisted";
  if (t.last_error) return "degraded";
  if (!t.last_success) return "starting";
  return t.fresh === false ? "stale" : "ok";
}
