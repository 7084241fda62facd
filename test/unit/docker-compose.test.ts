import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ALL_SEARCH_ATTRIBUTES } from '../../src/search-attributes';
import {
  DEFAULT_RETENTION,
  DEFAULT_SHARDS,
  DYNAMIC_CONFIG_FILE,
  pinnedServerVersion,
} from '../../scripts/stack-postgres';

const repositoryRoot = new URL('../../', import.meta.url);

function readRepositoryFile(path: string): string {
  return readFileSync(new URL(path, repositoryRoot), 'utf8');
}

/** The parts of a Compose service these tests look at. */
interface ComposeService {
  image?: string;
  build?: unknown;
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  entrypoint?: string | string[];
  command?: string | string[];
  volumes?: string[];
}

function loadComposeServices(): Record<string, ComposeService> {
  const compose: unknown = parse(readRepositoryFile('docker-compose.yml'));
  assert.ok(
    typeof compose === 'object' && compose !== null && 'services' in compose,
    'docker-compose.yml has no services',
  );
  return compose.services as Record<string, ComposeService>;
}

function serviceNamed(services: Record<string, ComposeService>, name: string): ComposeService {
  const service = services[name];
  assert.ok(service, `docker-compose.yml has no service "${name}"`);
  return service;
}

/** Compose accepts environment as a map or as KEY=VALUE lines; both read the same here. */
function environmentOf(service: ComposeService): Record<string, string> {
  const environment = service.environment ?? {};
  if (Array.isArray(environment)) {
    return Object.fromEntries(
      environment.map((line) => {
        const separator = line.indexOf('=');
        return separator === -1 ? [line, ''] : [line.slice(0, separator), line.slice(separator + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(environment).map(([key, value]) => [key, String(value ?? '')]));
}

function dependenciesOf(service: ComposeService): string[] {
  const dependsOn = service.depends_on ?? [];
  return Array.isArray(dependsOn) ? dependsOn : Object.keys(dependsOn);
}

function commandTextOf(service: ComposeService): string {
  return [service.entrypoint ?? [], service.command ?? []].flat().join(' ');
}

test('the compose stack has PostgreSQL, Temporal, the Web UI and the worker', () => {
  const services = loadComposeServices();
  for (const name of ['postgresql', 'temporal', 'temporal-ui', 'worker']) {
    serviceNamed(services, name);
  }
});

test('Temporal persists to the postgresql service and waits for it to be healthy', () => {
  const services = loadComposeServices();
  const temporal = serviceNamed(services, 'temporal');
  const environment = environmentOf(temporal);
  assert.match(environment['DB'] ?? '', /^postgres/);
  assert.equal(environment['POSTGRES_SEEDS'], 'postgresql');
  assert.ok(dependenciesOf(temporal).includes('postgresql'), 'temporal must depend on postgresql');
  assert.ok(serviceNamed(services, 'postgresql').image?.startsWith('postgres:'));
});

test('the Web UI talks to the temporal service', () => {
  const temporalUi = serviceNamed(loadComposeServices(), 'temporal-ui');
  assert.equal(environmentOf(temporalUi)['TEMPORAL_ADDRESS'], 'temporal:7233');
});

test('compose runs the server `npm run stack:postgres` builds and measures: same version, shards, dynamic config, retention', () => {
  const services = loadComposeServices();
  const temporal = serviceNamed(services, 'temporal');
  const version = pinnedServerVersion();
  assert.equal(temporal.image, `temporalio/auto-setup:${version}`);
  assert.ok(
    serviceNamed(services, 'temporal-admin-tools').image?.startsWith(`temporalio/admin-tools:${version}-`),
    'admin-tools must match the server version',
  );
  const environment = environmentOf(temporal);
  assert.equal(environment['NUM_HISTORY_SHARDS'], String(DEFAULT_SHARDS));
  assert.equal(environment['DEFAULT_NAMESPACE_RETENTION'], DEFAULT_RETENTION);
  const mounted = (temporal.volumes ?? []).map((volume) => volume.split(':'));
  const dynamicConfig = mounted.find(([, target]) => target === environment['DYNAMIC_CONFIG_FILE_PATH']);
  assert.ok(dynamicConfig, 'DYNAMIC_CONFIG_FILE_PATH must name a mounted file');
  assert.equal(
    new URL(dynamicConfig[0] ?? '', repositoryRoot).pathname,
    DYNAMIC_CONFIG_FILE,
    'compose mounts the dynamic config the stack script uses',
  );
  assert.match(readRepositoryFile('deploy/temporal/dynamicconfig.yaml'), /history\.transferProcessorMaxPollRPS:/);
});

test('the worker is built from this repository and connects to the temporal service', () => {
  const worker = serviceNamed(loadComposeServices(), 'worker');
  assert.ok(worker.build, 'worker must be built from the repository (build: .)');
  const environment = environmentOf(worker);
  assert.equal(environment['TEMPORAL_ADDRESS'], 'temporal:7233');
  assert.ok(environment['TEMPORAL_NAMESPACE'], 'worker needs TEMPORAL_NAMESPACE');
  assert.ok(environment['TEMPORAL_TASK_QUEUE'], 'worker needs TEMPORAL_TASK_QUEUE');
});

test('the Gemini API key comes from the environment, never from the compose file', () => {
  const worker = serviceNamed(loadComposeServices(), 'worker');
  const apiKey = environmentOf(worker)['GEMINI_API_KEY'];
  assert.ok(apiKey !== undefined, 'worker must pass GEMINI_API_KEY through');
  assert.match(
    apiKey,
    /^\$\{GEMINI_API_KEY(:?[-?][^}]*)?\}$/,
    'GEMINI_API_KEY must be a ${...} reference, not a value',
  );
  // Google API keys start with "AIza"; none may appear anywhere in the file.
  assert.doesNotMatch(readRepositoryFile('docker-compose.yml'), /AIza[0-9A-Za-z_-]{20,}/);
});

test('the stack registers every search attribute the workflows set, before workers start', () => {
  const services = loadComposeServices();
  const registration = Object.entries(services).find(([, service]) =>
    commandTextOf(service).includes('search-attribute create'),
  );
  assert.ok(registration, 'no service runs `temporal operator search-attribute create`');
  const [registrationName, registrationService] = registration;
  const commandText = commandTextOf(registrationService);
  assert.match(commandText, /--address temporal:7233/);
  // Every attribute the code sets, with the type it is defined with.
  const expectedTypes = Object.fromEntries(
    ALL_SEARCH_ATTRIBUTES.map((key) => [key.name, key.type === 'INT' ? 'Int' : 'Keyword']),
  );
  assert.equal(Object.keys(expectedTypes).length, ALL_SEARCH_ATTRIBUTES.length);
  assert.ok(Object.keys(expectedTypes).length >= 6);
  for (const [name, type] of Object.entries(expectedTypes)) {
    assert.match(
      commandText,
      new RegExp(`--name ${name} --type ${type}\\b`),
      `search attribute ${name} (${type}) is not registered`,
    );
  }
  assert.ok(
    dependenciesOf(serviceNamed(services, 'worker')).includes(registrationName),
    `worker must wait for ${registrationName}`,
  );
});

test('the Docker image runs the worker as a non-root user', () => {
  const dockerfile = readRepositoryFile('Dockerfile');
  const commandLine = dockerfile.split('\n').find((line) => line.startsWith('CMD '));
  assert.ok(commandLine, 'Dockerfile has no CMD');
  assert.deepEqual(JSON.parse(commandLine.slice('CMD '.length)), [
    'node',
    '--import',
    'tsx',
    'src/cli/main.ts',
    'worker',
  ]);
  assert.match(dockerfile, /^RUN npm ci --omit=dev/m);
  const users = dockerfile.split('\n').filter((line) => line.startsWith('USER '));
  assert.ok(users.length > 0 && users.at(-1) !== 'USER root', 'the image must end as a non-root USER');
});

test('the demo data has 50 products, p001 to p050, each with a name and a description', () => {
  const lines = readRepositoryFile('data/demo-products.jsonl')
    .split('\n')
    .filter((line) => line.trim() !== '');
  assert.equal(lines.length, 50);
  const ids = new Set<string>();
  lines.forEach((line, index) => {
    const product: unknown = JSON.parse(line);
    assert.ok(typeof product === 'object' && product !== null, `line ${index + 1} is not a JSON object`);
    const { id, name, description } = product as Record<string, unknown>;
    assert.ok(typeof id === 'string' && id !== '', `line ${index + 1} has no id`);
    assert.ok(!ids.has(id), `line ${index + 1} repeats id ${id}`);
    ids.add(id);
    assert.equal(id, `p${String(index + 1).padStart(3, '0')}`, `line ${index + 1} is out of order`);
    assert.ok(typeof name === 'string' && name.trim() !== '', `product ${id} has no name`);
    assert.ok(typeof description === 'string' && description.trim() !== '', `product ${id} has no description`);
  });
});
