// HTTP requests of the API client (src/fetch.rs), through the runtime's own
// fetch (globalThis.fetch, looked up at call time) or one the caller
// supplied. In JavaScript because it is nothing but calls into Headers,
// Request and fetch: compiled from Rust, their bindings took several times
// the bytes. The Rust side turns the failures below into the client's
// errors (and checks the AbortSignal that caused one).
//
// Failures reject with [code, detail]:
//   0  a header name or value HTTP does not allow (detail: its name)
//   1  the token has characters HTTP does not allow in a header
//   2  no Request can be built for the URL (detail: the error)
//   3  no response (detail: fetch's error)
//   4  fetch resolved to something that is not a Response
//   5  the Headers object cannot be built (detail: the error)
//   6  the signal had fired before the request was sent

// The request sent, awaited, and checked to be a Response.
async function send(request, signal, customFetch) {
  if (signal && signal.aborted) throw [6];
  let response;
  try {
    response = await (customFetch ? customFetch(request) : globalThis.fetch(request));
  } catch (e) {
    throw [3, e];
  }
  if (!(response instanceof Response)) throw [4];
  return response;
}

// An API call: `headers` is [name, value, …] (the client's, then the
// call's own); Authorization (Bearer `token`), Accept (unless given) and,
// with a body, Content-Type: application/json are set after them and win.
// Resolves with [status, statusText, x-correlation-id, retry-after, body
// text] (absent headers as null).
export async function apiFetch(method, url, headers, token, body, signal, customFetch) {
  let h;
  try {
    h = new Headers();
  } catch (e) {
    throw [5, e];
  }
  let accept = false;
  for (let i = 0; i < headers.length; i += 2) {
    try {
      h.set(headers[i], headers[i + 1]);
    } catch {
      throw [0, headers[i]];
    }
    accept ||= headers[i].toLowerCase() === "accept";
  }
  try {
    h.set("Authorization", "Bearer " + token);
  } catch {
    throw [1];
  }
  if (!accept) h.set("Accept", "application/json");
  const init = { method, headers: h };
  if (body !== undefined) {
    h.set("Content-Type", "application/json");
    init.body = body;
  }
  if (signal) init.signal = signal;
  let request;
  try {
    request = new Request(url, init);
  } catch (e) {
    throw [2, e];
  }
  const response = await send(request, signal, customFetch);
  let text;
  try {
    text = await response.text();
  } catch (e) {
    throw [3, e];
  }
  const header = (name) => response.headers.get(name);
  return [response.status, response.statusText, header("x-correlation-id"), header("retry-after"), text];
}

// A plain GET of a pre-signed URL (no bearer token): the Response, unread.
export async function getFetch(url, signal, customFetch) {
  let request;
  try {
    request = new Request(url, signal ? { method: "GET", signal } : { method: "GET" });
  } catch (e) {
    throw [2, e];
  }
  return send(request, signal, customFetch);
}
