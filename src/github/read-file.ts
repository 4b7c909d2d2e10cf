// A file's text from a repository through the contents API, or null when it is not there.
import { RequestError } from "@octokit/request-error";
import type { GitHubClient } from "./tokens.ts";

export async function readRawFile(octokit: GitHubClient, o: { owner: string; repo: string; path: string; ref?: string }): Promise<string | null> {
  try {
    const res = await octokit.rest.repos.getContent({ ...o, mediaType: { format: "raw" } });
    return typeof res.data === "string" ? res.data : JSON.stringify(res.data);
  } catch (e) {
    if (e instanceof RequestError && e.status === 404) return null;
    throw e;
  }
}
