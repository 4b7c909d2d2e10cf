// Bosun's egress proxy, by concern under ./egress/: proxy.ts (the HTTP proxy and its events),
// vet.ts (allowlist, resolution, Bosun's own networks), names.ts (lookups cached and coalesced per
// host), allowlist.ts, addresses.ts, dependencies.ts, and forwarder.ts (the sandbox's side).
export { isInternalAddress } from "./egress/addresses.ts";
export { entryWithin, expandPresets, hostAllowed, hostPresets, type EgressRule } from "./egress/allowlist.ts";
export { recogniseDependency, type DependencyInstall } from "./egress/dependencies.ts";
export type { NetworkEvent } from "./egress/events.ts";
export { startEgressProxy, type EgressProxy, type EgressProxyOptions } from "./egress/proxy.ts";
