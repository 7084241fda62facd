import type http from 'node:http';

/** The JSON body of a request, or undefined when it is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function sendJson(response: http.ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
  response.end(JSON.stringify(body));
}

/** An HTTP 200 with a raw body, either as JSON or as one server-sent event. */
export function sendRaw(response: http.ServerResponse, raw: string, stream: boolean): void {
  if (stream) {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.end(`data: ${raw}\r\n\r\n`);
  } else {
    response.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
    response.end(raw);
  }
}

export function readBody(request: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
