// The JSON API: one fetch wrapper that turns error bodies into ApiError (status, code, fields).

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && typeof body === "object" && body.error) || {};
    super(typeof error.message === "string" && error.message ? error.message : `Request failed (${status})`);
    this.status = status;
    this.code = typeof error.code === "string" ? error.code : "";
    this.fields = error.fields && typeof error.fields === "object" ? error.fields : {};
    // Our functions answer in the {"status":"error","error":{...}} envelope. Anything else with
    // a 401 ({"message":"Unauthorized"}, or no body) comes from API Gateway's JWT authorizer:
    // the token is missing, expired or forged, which a refresh can mend.
    this.fromApi = Boolean(body && typeof body === "object" && body.error && typeof body.error === "object");
  }

  // The token was refused before any function ran (expired or not valid): try a refresh.
  get tokenRefused() {
    return this.status === 401 && !this.fromApi;
  }

  // The API itself says this person's session is over (disabled, role changed): sign in again.
  get sessionEnded() {
    return this.status === 401 && this.fromApi;
  }
}

// A request that never got an answer (offline, dropped connection): the outcome is unknown.
export class NetworkError extends Error {}

// The API could not be reached: no answer at all, or the gateway in front of it answered that
// the API did not (502 Bad Gateway, 503 Service Unavailable, 504 Gateway Timeout). Worth
// trying again later with the same request.
export function unreachable(error) {
  return error instanceof NetworkError || (error instanceof ApiError && [502, 503, 504].includes(error.status));
}

export async function api(path, { method = "GET", body, token, query } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") params.set(name, value);
    }
    const text = params.toString();
    if (text) url += `?${text}`;
  }
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (error) {
    throw new NetworkError(error && error.message ? error.message : "network error");
  }
  let data = null;
  let text = "";
  try {
    text = await response.text();
  } catch (error) {
    throw new NetworkError(error && error.message ? error.message : "network error");
  }
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return { status: response.status, data };
}
