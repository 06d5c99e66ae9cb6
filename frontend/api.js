// The JSON API: one fetch wrapper that turns error bodies into ApiError (status, code, fields).

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `Request failed (${status})`);
    this.status = status;
    this.code = error.code || "";
    this.fields = error.fields && typeof error.fields === "object" ? error.fields : {};
  }
}

// A request that never got an answer (offline, dropped connection): the outcome is unknown.
export class NetworkError extends Error {}

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
