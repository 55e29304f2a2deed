/**
 * @module transport/keep-alive-agent
 *
 * The HTTP/1.1 connection pool of a REST or Connect transport. Keep-alive saves a TCP and TLS
 * handshake per call when calls come in bursts (a manager submitting for many identities), but a
 * connection left idle is closed by the server sooner or later — Node servers after 5 s, proxies
 * after a minute or so, a Go server whenever its timeouts say — and one that the server has just
 * closed fails the next request with "socket hang up". Two measures together:
 *
 * - an idle connection is closed by us after {@link IDLE_SOCKET_TIMEOUT_MS}, shorter than the
 *   common server idle limits, so the pool rarely holds a connection the server has given up on
 *   (Node's agent also honours a server's `Keep-Alive: timeout=N` hint, a second earlier);
 * - the race that remains (the server closes just as a request goes out) is caught in
 *   `httpExchange`, which sends an idempotent request again on another connection.
 *
 * The idle limit is the agent's socket timeout, run by Node itself rather than by the injected
 * clock: it only decides when an unused connection is dropped, never what a call returns.
 */
import * as http from "node:http";
import * as https from "node:https";

/** How long an unused keep-alive connection stays in the pool: 4 s. */
export const IDLE_SOCKET_TIMEOUT_MS = 4_000;

/** Options of {@link createKeepAliveAgent}. */
export interface KeepAliveAgentOptions {
  /** How long an unused connection stays open (default {@link IDLE_SOCKET_TIMEOUT_MS}). */
  idleTimeoutMs?: number | undefined;
}

/**
 * A keep-alive agent for `url`'s scheme whose idle connections close after `idleTimeoutMs`.
 *
 * @example
 * ```ts
 * const agent = createKeepAliveAgent(new URL("https://poet-110.spacemesh.network"));
 * // … requests with { agent } …
 * agent.destroy();
 * ```
 */
export function createKeepAliveAgent(url: URL, options: KeepAliveAgentOptions = {}): http.Agent {
  const agentOptions: http.AgentOptions = {
    keepAlive: true,
    // Node applies `timeout` to pooled sockets: one that stays unused this long is destroyed.
    timeout: options.idleTimeoutMs ?? IDLE_SOCKET_TIMEOUT_MS,
  };
  return url.protocol === "https:" ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
}
