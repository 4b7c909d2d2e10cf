// The signed-in user: who they are and their role in an organization, as a web app that signs
// people in with the app's user access token asks.
import type { Principal } from "../auth.ts";
import { HttpError } from "../http.ts";
import type { Account } from "../model.ts";
import { isoTime, renderOrganization, renderUser } from "../render.ts";
import type { World } from "../world.ts";
import type { Route } from "./context.ts";
import { json } from "./context.ts";

/** The person behind a user's token; installation tokens act as the app's bot, which has no such endpoints. */
function signedIn(p: Principal): Principal & { kind: "user" } {
  if (p.kind !== "user") throw new HttpError(403, "Resource not accessible by integration");
  return p;
}

/** The "private user" view GitHub gives the user themselves; counters the emulator does not keep are zero. */
function renderAuthenticatedUser(w: World, a: Account): Record<string, unknown> {
  const owned = [...w.repos.values()].filter((r) => r.owner.toLowerCase() === a.login.toLowerCase());
  const privateRepos = owned.filter((r) => r.private).length;
  return {
    ...renderUser(w, a),
    user_view_type: "private",
    name: a.name,
    company: null,
    blog: "",
    location: null,
    email: a.email,
    hireable: null,
    bio: null,
    twitter_username: null,
    public_repos: owned.length - privateRepos,
    public_gists: 0,
    followers: 0,
    following: 0,
    created_at: isoTime(a.createdAt),
    updated_at: isoTime(a.createdAt),
    private_gists: 0,
    total_private_repos: privateRepos,
    owned_private_repos: privateRepos,
    disk_usage: 0,
    collaborators: 0,
    two_factor_authentication: false,
  };
}

export const userRoutes: Route[] = [
  {
    method: "GET", path: "/user", auth: "token",
    handle: ({ w, principal }) => json(200, renderAuthenticatedUser(w, w.account(signedIn(principal).login))),
  },
  {
    method: "GET", path: "/user/memberships/orgs/{org}", auth: "token",
    handle: ({ w, principal, params }) => {
      const p = signedIn(principal);
      const account = w.findAccount(params["org"] ?? "");
      const org = account ? w.orgs.get(account.login) : undefined;
      const role = org?.members.get(p.login);
      if (!org || !role) throw new HttpError(404, "Not Found");
      // A user access token sees only what the app sees too: organizations it is installed on.
      if (p.token.userToServer && !w.installationFor(org.account.login)) throw new HttpError(404, "Not Found");
      const orgUrl = `${w.apiUrl}/orgs/${org.account.login}`;
      return json(200, {
        url: `${orgUrl}/memberships/${p.login}`,
        state: "active",
        role,
        organization_url: orgUrl,
        organization: renderOrganization(w, org.account),
        user: renderUser(w, w.account(p.login)),
      });
    },
  },
];
