// The app's own endpoints: installations, and minting and revoking installation tokens.
import { tokenHas, mintInstallationToken } from "../auth.ts";
import { HttpError, paginate, validationFailed } from "../http.ts";
import type { Installation, Permissions } from "../model.ts";
import { fullName } from "../model.ts";
import { isoTime, renderRepo, renderUser } from "../render.ts";
import type { World } from "../world.ts";
import type { Route } from "./context.ts";
import { json, noContent } from "./context.ts";

export function renderInstallation(w: World, i: Installation): Record<string, unknown> {
  const account = w.account(i.account);
  return {
    id: i.id,
    account: renderUser(w, account),
    repository_selection: i.repositorySelection,
    access_tokens_url: `${w.apiUrl}/app/installations/${i.id}/access_tokens`,
    repositories_url: `${w.apiUrl}/installation/repositories`,
    html_url: `${w.webUrl}/organizations/${account.login}/settings/installations/${i.id}`,
    app_id: w.app.id,
    app_slug: w.app.slug,
    target_id: account.id,
    target_type: account.type === "Organization" ? "Organization" : "User",
    permissions: i.permissions,
    events: i.events,
    created_at: isoTime(i.createdAt),
    updated_at: isoTime(i.createdAt),
    single_file_name: null,
    has_multiple_single_files: false,
    single_file_paths: [],
    suspended_by: null,
    suspended_at: null,
  };
}

function installationOr404(w: World, id: string | undefined): Installation {
  const i = w.installations.get(Number(id));
  if (!i) throw new HttpError(404, "Not Found");
  return i;
}

export const appRoutes: Route[] = [
  {
    // The manifest flow's last step (app-registration.ts has its pages): the code, used once within
    // an hour, gives the app's credentials to whoever holds it, without other credentials.
    method: "POST", path: "/app-manifests/{code}/conversions", auth: "none",
    handle: ({ w, params }) => {
      const code = w.manifestCodes.get(params["code"] ?? "");
      const app = w.registeredApp;
      if (!code || w.now() >= code.expiresAt || !app || app.id !== code.appId) throw new HttpError(404, "Not Found");
      w.manifestCodes.delete(code.code);
      return json(201, {
        ...w.renderAppForRest(),
        client_id: app.clientId,
        client_secret: app.clientSecret,
        webhook_secret: app.webhookSecret,
        pem: app.privateKeyPem,
      });
    },
  },
  {
    method: "GET", path: "/app", auth: "app",
    handle: ({ w }) => json(200, { ...w.renderAppForRest(), installations_count: w.installations.size }),
  },
  {
    method: "GET", path: "/app/installations", auth: "app",
    handle: ({ w, url }) => {
      const { page, link } = paginate(url, [...w.installations.values()].map((i) => renderInstallation(w, i)));
      return json(200, page, link ? { link } : undefined);
    },
  },
  {
    method: "GET", path: "/app/installations/{installation_id}", auth: "app",
    handle: ({ w, params }) => json(200, renderInstallation(w, installationOr404(w, params["installation_id"]))),
  },
  {
    method: "GET", path: "/repos/{owner}/{repo}/installation", auth: "app",
    handle: ({ w, params }) => {
      const r = w.findRepo(params["owner"] ?? "", params["repo"] ?? "");
      const i = r ? w.installationFor(r.owner) : undefined;
      if (!r || !i || !w.installationCovers(i, r)) throw new HttpError(404, "Not Found");
      return json(200, renderInstallation(w, i));
    },
  },
  {
    method: "GET", path: "/orgs/{org}/installation", auth: "app",
    handle: ({ w, params }) => {
      const i = w.installationFor(params["org"] ?? "");
      if (!i) throw new HttpError(404, "Not Found");
      return json(200, renderInstallation(w, i));
    },
  },
  {
    method: "POST", path: "/app/installations/{installation_id}/access_tokens", auth: "app",
    handle: ({ w, params, body }) => {
      const inst = installationOr404(w, params["installation_id"]);
      const names = body["repositories"];
      const ids = body["repository_ids"];
      let repositoryIds: number[] | null = null;
      if (names !== undefined || ids !== undefined) {
        if ((names !== undefined && !Array.isArray(names)) || (ids !== undefined && !Array.isArray(ids))) {
          throw validationFailed("Invalid request.\n\n`repositories` and `repository_ids` must be arrays.");
        }
        repositoryIds = [];
        const inaccessible = (): HttpError => validationFailed("There is at least one repository that does not exist or is not accessible to the parent installation.");
        for (const n of (names ?? []) as unknown[]) {
          const r = typeof n === "string" ? w.findRepo(inst.account, n) : undefined;
          if (!r || !w.installationCovers(inst, r)) throw inaccessible();
          repositoryIds.push(r.id);
        }
        for (const id of (ids ?? []) as unknown[]) {
          const r = typeof id === "number" ? w.repoById(id) : undefined;
          if (!r || !w.installationCovers(inst, r)) throw inaccessible();
          if (!repositoryIds.includes(r.id)) repositoryIds.push(r.id);
        }
      }
      let permissions: Permissions = { ...inst.permissions };
      if (body["permissions"] !== undefined) {
        const asked = body["permissions"];
        if (typeof asked !== "object" || asked === null || Array.isArray(asked)) throw validationFailed("Invalid request.\n\n`permissions` must be an object.");
        permissions = {};
        for (const [k, v] of Object.entries(asked as Record<string, unknown>)) {
          if (v !== "read" && v !== "write" && v !== "admin") throw validationFailed(`Invalid request.\n\nFor '${k}', ${JSON.stringify(v)} is not a permission level.`);
          if (v === "admin" ? inst.permissions[k] !== "admin" : !tokenHas(inst.permissions, k, v)) {
            throw validationFailed("The permissions requested are not granted to this installation.");
          }
          permissions[k] = v;
        }
        if (!("metadata" in permissions)) permissions["metadata"] = "read";
      }
      const t = mintInstallationToken(w, inst, { repositoryIds, permissions });
      const out: Record<string, unknown> = {
        token: t.token,
        expires_at: isoTime(t.expiresAt ?? w.now()),
        permissions: t.permissions,
        repository_selection: repositoryIds === null ? inst.repositorySelection : "selected",
      };
      if (repositoryIds !== null) {
        out["repositories"] = repositoryIds.map((id) => {
          const r = w.repoById(id);
          if (!r) throw new Error(`[offline-github] lost repository ${id}`);
          return renderRepo(w, r);
        });
      }
      return json(201, out);
    },
  },
  {
    method: "DELETE", path: "/installation/token", auth: "token",
    handle: ({ w, principal }) => {
      if (principal.kind !== "installation") throw new HttpError(403, "Resource not accessible by integration");
      principal.token.revokedAt = w.now();
      return noContent();
    },
  },
  {
    method: "GET", path: "/installation/repositories", auth: "token",
    handle: ({ w, principal, url }) => {
      if (principal.kind !== "installation") throw new HttpError(403, "Resource not accessible by integration");
      const ids = principal.token.repositoryIds;
      const repos = w.installationRepos(principal.installation).filter((r) => ids === null || ids.includes(r.id))
        .sort((a, b) => fullName(a).localeCompare(fullName(b)));
      const { page, link } = paginate(url, repos);
      return json(200, {
        total_count: repos.length,
        repository_selection: ids === null ? principal.installation.repositorySelection : "selected",
        repositories: page.map((r) => renderRepo(w, r)),
      }, link ? { link } : undefined);
    },
  },
];
