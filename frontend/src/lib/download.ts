import { ApiError, errorMessage, getToken } from "../api/client";

/** Downloads an authenticated API file (the token cannot ride on a plain link). */
export async function downloadFile(path: string, filename: string): Promise<void> {
  const response = await fetch(path, { headers: { Authorization: `Token ${getToken() ?? ""}` } });
  if (!response.ok) {
    let body: unknown = null;
    try {
      body = await response.json();
    } catch {
      /* not JSON */
    }
    throw new ApiError(response.status, errorMessage(body, response.status).message, body);
  }
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
