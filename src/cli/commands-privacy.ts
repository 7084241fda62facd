/** Payload privacy commands: codec-server (the Web UI's decryption) and encryption-key. */
import { batchLlmSettings } from '../config';
import { describePrivacy, encrypts, payloadPrivacyOf } from '../privacy/data-converter';
import { startCodecServer } from '../privacy/codec-server';
import { KEY_ID_PATTERN, newEncryptionKey } from '../privacy/keys';
import { asStrings, flagValue, parseCommandArgs, PortNumber, UsageError } from './args';
import { codecServerSpec, encryptionKeySpec } from './command-specs';
import { printHelp } from './help';

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

/** The codec server's default port: the one Temporal's docs and samples use. */
export const DEFAULT_CODEC_PORT = 8081;

export async function runCodecServer(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(codecServerSpec, argv);
  if (values.help) return printHelp(codecServerSpec);
  const privacy = payloadPrivacyOf();
  if (!encrypts(privacy))
    err(
      'codec-server: BATCH_LLM_ENCRYPTION_KEYS is not set, so encrypted payloads will not decode (their key ids are named in the errors)',
    );
  const corsOrigins = asStrings(values['cors-origin']);
  for (const origin of corsOrigins)
    if (origin !== '*' && !/^https?:\/\/[^/]+$/.test(origin))
      throw new UsageError(
        `--cors-origin must be an origin like http://localhost:8233 (got ${JSON.stringify(origin)})`,
      );
  const authToken = values['auth-token'] ?? batchLlmSettings().BATCH_LLM_CODEC_AUTH_TOKEN;
  const server = await startCodecServer({
    privacy,
    port: flagValue('port', PortNumber, values.port ?? String(DEFAULT_CODEC_PORT)),
    host: values.host ?? '127.0.0.1',
    corsOrigins,
    ...(authToken ? { authToken } : {}),
    ...(asStrings(values.namespace).length > 0 ? { namespaces: asStrings(values.namespace) } : {}),
    log: err,
  });
  out(`Codec server at ${server.url} (${describePrivacy(privacy)})`);
  out(
    `  Web UI: start it with --ui-codec-endpoint ${server.url}, or set the codec endpoint in the UI's settings (Data Encoder)${corsOrigins.length === 0 ? '; give --cors-origin <the UI origin> so browsers may call it' : ''}`,
  );
  out(
    `  CLI:    temporal workflow show --workflow-id ID --codec-endpoint ${server.url}${authToken ? " --codec-auth 'Bearer <token>'" : ''}`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return 0;
}

export async function runEncryptionKey(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(encryptionKeySpec, argv);
  if (values.help) return printHelp(encryptionKeySpec);
  const id = values.id ?? `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`;
  if (!KEY_ID_PATTERN.test(id)) throw new UsageError("--id must be 1-64 letters, digits, '.', '_' or '-'");
  out(newEncryptionKey(id));
  err(
    `Put it first in BATCH_LLM_ENCRYPTION_KEYS (comma-separated id:key entries) for every worker, client and codec server; keep the old keys after it until nothing they encrypted is left. Keep it secret: it reads every payload it encrypts.`,
  );
  return 0;
}
