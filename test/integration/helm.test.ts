import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { loadWorkerConfig, WORKER_OPTIONS } from '../../src/config/worker-config';
import { findRepoRoot } from '../../src/models/registry';
import { s3ClientConfigFromEnv } from '../../src/storage/s3-client-config';
import {
  CHART_DIR,
  chartScenarios,
  containerEnv,
  findHelm,
  K8sObject,
  lintChart,
  only,
  renderChart,
  templateChart,
  validateObjects,
} from '../support/helm';
import { describeWith } from '../support/prerequisites';
import { defaultInferenceThreads } from '../../src/config/device-defaults';
import { usableCores } from '../../src/host/cpu-quota';

/**
 * The Helm chart (charts/facefleet) with a real helm: every ci/ scenario lints and renders, every
 * rendered object validates against the Kubernetes and CRD schemas, and the rendered objects do what
 * the chart promises. The worker's own config loader reads the rendered environment.
 */
const ROOT = findRepoRoot();
const RULES_SOURCE = path.join(ROOT, 'prometheus-rules', 'facefleet.rules.yml');
const DASHBOARD_SOURCE = path.join(ROOT, 'dashboards', 'facefleet.json');
const RULES_COPY = path.join(CHART_DIR, 'files', 'facefleet.rules.yml');
const DASHBOARD_COPY = path.join(CHART_DIR, 'files', 'facefleet-dashboard.json');
const RULES_HEADER = '# generated from prometheus-rules/facefleet.rules.yml by scripts/sync-chart-assets.sh — do not edit\n';

/** Secret values the scenarios' secrets would hold in a cluster; none may appear in a manifest. */
const SECRETS: Record<string, string> = {
  'facefleet-redis/redis-password': 'S3CR3T-redis-pw',
  'facefleet-redis-url/url': 'rediss://:S3CR3T-url-pw@redis.internal:6380/0',
  'facefleet-s3/AWS_ACCESS_KEY_ID': 'AKIAS3CR3TID',
  'facefleet-s3/AWS_SECRET_ACCESS_KEY': 'S3CR3T-aws-key',
  'facefleet-s3/access-key-id': 'AKIAS3CR3TID2',
  'facefleet-s3/secret-access-key': 'S3CR3T-aws-key2',
  'facefleet-s3/session-token': 'S3CR3T-session',
};
const POD = { 'metadata.name': 'ff-facefleet-7d9c-x2x4q' };

/** Environment variables the worker reads beyond its options (model cache, S3 client). */
const OTHER_WORKER_ENV = ['FACEFLEET_MODEL_CACHE', 'FACEFLEET_S3_ENDPOINT', 'FACEFLEET_S3_REGION', 'FACEFLEET_S3_FORCE_PATH_STYLE'];
/** Chart-internal variables (the password REDIS_URL is composed with). */
const CHART_ENV = ['FACEFLEET_REDIS_PASSWORD'];

/** Environment variables of `facefleet worker`'s options, from its option table (which the CLI is built from). */
function cliWorkerEnv(): string[] {
  return Object.values(WORKER_OPTIONS).flatMap((o) => (o.env ? [o.env] : []));
}

function workerContainer(objects: K8sObject[]) {
  const deployment = only(objects, 'Deployment');
  return deployment.spec.template.spec.containers.find((c: { name: string }) => c.name === 'worker');
}

function labelsMatch(selector: Record<string, string>, labels: Record<string, string> = {}): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

const helmBin = findHelm();

describeWith({ name: 'helm', available: Boolean(helmBin), install: 'scripts/install-tools.sh builds helm v3.22.0 into ~/.cache/facefleet-tools/bin' }, 'charts/facefleet', () => {
  const scenarios = chartScenarios();
  const rendered = new Map<string, K8sObject[]>();
  const render = (name: string) => {
    if (!rendered.has(name)) rendered.set(name, renderChart({ valuesFiles: [scenarios.find((s) => s.name === name)!.file] }));
    return rendered.get(name)!;
  };

  it('has the six documented values scenarios', () => {
    expect(scenarios.map((s) => s.name)).toEqual(expect.arrayContaining(['default', 'gpu', 'keda', 'hpa', 'cronjob', 'external-secret']));
  });

  describe.each(chartScenarios().map((s) => [s.name]))('scenario %s', (name) => {
    it('passes helm lint --strict', () => {
      const run = lintChart({ valuesFiles: [scenarios.find((s) => s.name === name)!.file] });
      expect({ status: run.status, out: run.stdout + run.stderr }).toEqual({ status: 0, out: expect.stringContaining('0 chart(s) failed') });
    });

    it('renders objects that validate against the Kubernetes, prometheus-operator and KEDA schemas', () => {
      const objects = render(name);
      expect(objects.length).toBeGreaterThan(4);
      expect(validateObjects(objects)).toEqual([]);
    });

    it('gives the worker an environment its config loader accepts, with a grace period above the drain deadline', () => {
      const objects = render(name);
      const env = containerEnv(workerContainer(objects), { secrets: SECRETS, fields: POD });
      const config = loadWorkerConfig({}, env);
      expect(config.metricsPort).toBe(9464);
      expect(config.workerId).toBe(POD['metadata.name']);
      expect(() => s3ClientConfigFromEnv(env)).not.toThrow();
      const grace = only(objects, 'Deployment').spec.template.spec.terminationGracePeriodSeconds;
      expect(grace * 1000).toBeGreaterThan(config.drainTimeoutMs);
      expect(env.MALLOC_ARENA_MAX).toBe('2');
    });

    it('runs non-root on a read-only root filesystem with /tmp and the model cache writable', () => {
      const pod = only(render(name), 'Deployment').spec.template.spec;
      const worker = pod.containers.find((c: { name: string }) => c.name === 'worker');
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
      expect(worker.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      const env = containerEnv(worker);
      const mounts = Object.fromEntries(worker.volumeMounts.map((m: { name: string; mountPath: string }) => [m.mountPath, m.name]));
      const emptyDirs = new Set(pod.volumes.filter((v: { emptyDir?: unknown }) => v.emptyDir).map((v: { name: string }) => v.name));
      expect(emptyDirs.has(mounts['/tmp'])).toBe(true);
      expect(emptyDirs.has(mounts[env.FACEFLEET_MODEL_CACHE])).toBe(true);
      expect(pod.topologySpreadConstraints.length).toBeGreaterThan(0);
    });

    it('probes /healthz and /readyz on the port named metrics, and the Service and ServiceMonitor select it by that name', () => {
      const objects = render(name);
      const worker = workerContainer(objects);
      expect(worker.ports).toEqual([expect.objectContaining({ name: 'metrics', containerPort: 9464 })]);
      expect(worker.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
      expect(worker.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
      expect(worker.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });

      const podLabels = only(objects, 'Deployment').spec.template.metadata.labels;
      const service = only(objects, 'Service');
      const monitor = only(objects, 'ServiceMonitor');
      expect(labelsMatch(service.spec.selector, podLabels)).toBe(true);
      expect(service.spec.ports).toEqual([expect.objectContaining({ name: 'metrics', targetPort: 'metrics' })]);
      expect(monitor.spec.endpoints.map((e: { port: string }) => e.port)).toEqual(['metrics']);
      expect(labelsMatch(monitor.spec.selector.matchLabels, service.metadata.labels)).toBe(true);
      expect(monitor.metadata.labels?.release).toBe('kube-prometheus-stack');
      // The alert rules find workers by job=~"facefleet.*"; the job label comes from jobLabel.
      expect(service.metadata.labels?.[monitor.spec.jobLabel]).toMatch(/^facefleet/);
    });

    it('references every credential from a secret and renders no secret value', () => {
      const run = templateChart({ valuesFiles: [scenarios.find((s) => s.name === name)!.file] });
      const objects = render(name);
      expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
      for (const value of Object.values(SECRETS)) expect(run.stdout).not.toContain(value);
      const containers = objects.flatMap((o) => {
        const pod = o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template.spec : o.spec?.template?.spec;
        return pod ? [...(pod.initContainers ?? []), ...pod.containers] : [];
      });
      for (const c of containers) {
        for (const e of c.env ?? []) {
          if (/PASSWORD|SECRET|TOKEN|ACCESS_KEY/.test(e.name)) expect({ name: e.name, value: e.value }).toEqual({ name: e.name, value: undefined });
          if (e.name === 'REDIS_URL' && e.value) expect(e.value).not.toMatch(/:\/\/[^/@]*:(?!\$\()[^/@]+@/);
        }
      }
    });
  });

  it('copies prometheus-rules/ into the chart unchanged, and renders the PrometheusRule from it', () => {
    expect(fs.readFileSync(RULES_COPY, 'utf8')).toBe(RULES_HEADER + fs.readFileSync(RULES_SOURCE, 'utf8'));
    const rule = only(render('default'), 'PrometheusRule');
    expect(rule.metadata.labels?.release).toBe('kube-prometheus-stack');
    expect(rule.spec.groups).toEqual((YAML.parse(fs.readFileSync(RULES_SOURCE, 'utf8')) as { groups: unknown }).groups);
  });

  (fs.existsSync(DASHBOARD_SOURCE) ? it : it.skip)('copies dashboards/facefleet.json into the chart unchanged, and renders the dashboard ConfigMap from it', () => {
    expect(fs.readFileSync(DASHBOARD_COPY, 'utf8')).toBe(fs.readFileSync(DASHBOARD_SOURCE, 'utf8'));
    const cm = only(render('default'), 'ConfigMap');
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    expect(cm.metadata.annotations?.grafana_folder).toBe('Facefleet');
    expect(JSON.parse(cm.data['facefleet.json'])).toEqual(JSON.parse(fs.readFileSync(DASHBOARD_SOURCE, 'utf8')));
  });

  it('gpu: requests nvidia.com/gpu on GPU nodes and selects the CUDA provider and the GPU image', () => {
    const pod = only(render('gpu'), 'Deployment').spec.template.spec;
    const worker = pod.containers.find((c: { name: string }) => c.name === 'worker');
    expect(worker.resources.limits['nvidia.com/gpu']).toBe(1);
    expect(worker.image).toMatch(/-gpu$/);
    expect(pod.nodeSelector).toEqual({ 'nvidia.com/gpu.present': 'true' });
    expect(pod.tolerations).toEqual([expect.objectContaining({ key: 'nvidia.com/gpu', effect: 'NoSchedule' })]);
    const config = loadWorkerConfig({}, containerEnv(worker, { secrets: SECRETS, fields: POD }));
    expect(config.providers).toEqual(['cuda']);
    expect(config.allowCpuFallback).toBe(false);
    expect(config.model).toBe('mogface');
  });

  it('keda: a ScaledObject on the queue depth with fallback, stabilisation, and a Redis trigger for scale-from-zero', () => {
    const objects = render('keda');
    const deployment = only(objects, 'Deployment');
    expect(deployment.spec.replicas).toBeUndefined();
    const so = only(objects, 'ScaledObject');
    expect(so.spec.scaleTargetRef.name).toBe(deployment.metadata.name);
    expect(so.spec.minReplicaCount).toBe(0);
    expect(so.spec.fallback).toEqual({ failureThreshold: 3, replicas: 4 });
    expect(so.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds).toBe(300);
    const [prom, redis] = so.spec.triggers;
    expect(prom).toMatchObject({ type: 'prometheus', metricType: 'AverageValue', metadata: { threshold: '2000', ignoreNullValues: 'false' } });
    expect(prom.metadata.query).toBe(
      'sum(max by (state) (facefleet_queue_jobs{namespace="facefleet",queue="facefleet",state=~"waiting|prioritized|active"})) or on() vector(0)',
    );
    expect(redis).toMatchObject({ type: 'redis', metadata: { listName: 'bull:facefleet:wait', address: 'redis-master.redis.svc:6379', listLength: '2000' } });
    const auth = only(objects, 'TriggerAuthentication');
    expect(redis.authenticationRef.name).toBe(auth.metadata.name);
    expect(auth.spec.secretTargetRef).toEqual([{ parameter: 'password', name: 'facefleet-redis', key: 'redis-password' }]);
  });

  it('keda without scale to zero: an empty query result is an error, not an empty queue', () => {
    const so = only(renderChart({ set: { 'autoscaling.keda.enabled': true } }), 'ScaledObject');
    expect(so.spec.minReplicaCount).toBe(1);
    expect(so.spec.triggers).toHaveLength(1);
    expect(so.spec.triggers[0].metadata.query).not.toContain('vector(0)');
    expect(so.spec.triggers[0].metadata.ignoreNullValues).toBe('false');
  });

  it('hpa: an HPA on the external queue-depth metric, images per replica as an average value', () => {
    const objects = render('hpa');
    expect(only(objects, 'Deployment').spec.replicas).toBeUndefined();
    const hpa = only(objects, 'HorizontalPodAutoscaler');
    expect(hpa.spec).toMatchObject({ minReplicas: 2, maxReplicas: 30, scaleTargetRef: { kind: 'Deployment', name: only(objects, 'Deployment').metadata.name } });
    expect(hpa.spec.metrics).toEqual([
      { type: 'External', external: { metric: { name: 'facefleet_queue_depth', selector: { matchLabels: { queue: 'facefleet' } } }, target: { type: 'AverageValue', averageValue: '2000' } } },
    ]);
    expect(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds).toBe(300);
  });

  it('cronjob: the nightly enqueue with concurrencyPolicy Forbid, the worker model and the same queue', () => {
    const objects = render('cronjob');
    const cron = only(objects, 'CronJob');
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    expect(cron.spec.timeZone).toBe('Europe/Berlin');
    const container = cron.spec.jobTemplate.spec.template.spec.containers[0];
    expect(container.command).toEqual(['/bin/sh', '-c']);
    expect(container.args[0]).toMatch(/enqueue --prefix "\$ENQUEUE_PREFIX" --run-id "\$ENQUEUE_RUN_ID_PREFIX-\$\(date -u \+%Y-%m-%d\)" --incremental/);
    const env = containerEnv(container, { secrets: SECRETS });
    const workerEnv = containerEnv(workerContainer(objects), { secrets: SECRETS, fields: POD });
    expect(env).toMatchObject({ ENQUEUE_PREFIX: 's3://photos/albums/', FACEFLEET_RESULTS: 's3://faces/albums/', ENQUEUE_RUN_ID_PREFIX: 'nightly' });
    for (const shared of ['REDIS_URL', 'FACEFLEET_QUEUE', 'FACEFLEET_REDIS_PREFIX', 'FACEFLEET_MODEL', 'FACEFLEET_S3_ENDPOINT', 'AWS_SECRET_ACCESS_KEY']) {
      expect({ [shared]: env[shared] }).toEqual({ [shared]: workerEnv[shared] });
    }
    expect(env.REDIS_URL).toBe('redis://:S3CR3T-redis-pw@redis-master.redis.svc:6379/0');
    expect(validateObjects([cron])).toEqual([]);
  });

  it('external-secret: the whole Redis URL and the S3 keys come from secrets, and a NetworkPolicy admits only the metrics port', () => {
    const objects = render('external-secret');
    const env = containerEnv(workerContainer(objects), { secrets: SECRETS, fields: POD });
    expect(env.REDIS_URL).toBe(SECRETS['facefleet-redis-url/url']);
    expect([env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN]).toEqual(['AKIAS3CR3TID2', 'S3CR3T-aws-key2', 'S3CR3T-session']);
    const policy = only(objects, 'NetworkPolicy');
    expect(policy.spec.ingress).toEqual([expect.objectContaining({ ports: [{ port: 'metrics', protocol: 'TCP' }] })]);
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
  });

  it.each([['Dockerfile'], ['Dockerfile.gpu']])('%s builds the image the chart expects: user, entry point, seeded model folder, metrics port', (file) => {
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    const objects = render(file === 'Dockerfile' ? 'default' : 'gpu');
    const pod = only(objects, 'Deployment').spec.template.spec;
    const seed = pod.initContainers.find((c: { name: string }) => c.name === 'seed-model-cache');
    expect(text).toContain(`USER ${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`);
    expect(text).toContain('ENTRYPOINT ["node", "/app/bin/facefleet.js"]');
    expect(text).toContain(`FACEFLEET_MODEL_CACHE=${containerEnv(seed).SEED_FROM} node bin/facefleet.js models pull`);
    expect(text).toContain(`EXPOSE ${workerContainer(objects).ports[0].containerPort}`);
    expect(text).toMatch(/npm ci --omit=dev/);
    if (file === 'Dockerfile.gpu') {
      expect(text).toMatch(/^FROM \$\{CUDA_IMAGE\}$/m);
      expect(text).toMatch(/ARG CUDA_IMAGE=nvidia\/cuda:12\.[0-9.]+-cudnn-runtime-/);
      expect(text).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js');
    } else {
      expect(text).toContain('ENV ONNXRUNTIME_NODE_INSTALL=skip');
    }
  });

  // FACEFLEET_FILE_ROOTS is rendered only when config.fileRoots is set, and set here only when the worker has the option.
  const hasFileRoots = cliWorkerEnv().includes('FACEFLEET_FILE_ROOTS');

  it('renders an environment variable for every option of `facefleet worker`, and none the worker ignores', () => {
    const objects = renderChart({
      set: {
        'gpu.enabled': true, 'gpu.allowCpuFallback': true, 'config.model': 'mogface', 'config.modelPath': '/models/m.onnx', 'config.scoreThreshold': 0.7, 'config.maxTiles': 2, 'config.batch': 16, 'config.inferenceThreads': 2,
        's3.endpoint': 'https://s3.local', 's3.region': 'eu-west-1', 's3.forcePathStyle': 'true', ...(hasFileRoots ? { 'config.fileRoots': '/data' } : {}),
        'config.allowedLocations': 's3://photos',
      },
    });
    const names = workerContainer(objects).env.map((e: { name: string }) => e.name) as string[];
    for (const name of cliWorkerEnv()) expect(names).toContain(name);
    const known = new Set([...cliWorkerEnv(), ...OTHER_WORKER_ENV, ...CHART_ENV]);
    expect(names.filter((n) => n.startsWith('FACEFLEET_') && !known.has(n))).toEqual([]);
  });

  it("leaves the batch and the inference threads to the worker unless set: the CPU defaults on CPU pods, the GPU defaults on GPU pods", () => {
    for (const gpu of [false, true]) {
      const container = workerContainer(renderChart({ set: { 'gpu.enabled': gpu } }));
      const names = container.env.map((e: { name: string }) => e.name);
      expect(names).not.toContain('FACEFLEET_BATCH');
      expect(names).not.toContain('FACEFLEET_INFERENCE_THREADS');
      const config = loadWorkerConfig({}, containerEnv(container, { fields: POD }));
      expect({ gpu, batch: config.batch, threads: config.threads }).toEqual({ gpu, batch: gpu ? 32 : 1, threads: defaultInferenceThreads([gpu ? 'cuda' : 'cpu'], usableCores(), 'retinaface') });
    }
    const set = workerContainer(renderChart({ set: { 'gpu.enabled': true, 'config.batch': 12, 'config.inferenceThreads': 0 } }));
    expect(loadWorkerConfig({}, containerEnv(set, { fields: POD }))).toMatchObject({ batch: 12, threads: 0 });
  });

  it('passes every config value through to the worker', () => {
    const values = { queue: 'photos.{ff}', redisPrefix: '{ff}', canvas: 512, maxTiles: 9, batch: 16, maxWaitMs: 25, concurrency: 40, inferenceThreads: 3, scoreThreshold: 0.75, maxImageMb: 20, maxMegapixels: 60, drainTimeoutMs: 45000, lockDurationMs: 90000, stalledIntervalMs: 15000, attempts: 7, decodeThreads: 2, ortAllowSpinning: true, forceIncremental: true, logLevel: 'warn' };
    const fileRoots = hasFileRoots ? { fileRoots: '/data,/mnt/photos' } : {};
    const set = Object.fromEntries(Object.entries({ ...values, ...fileRoots }).map(([k, v]) => [`config.${k}`, v]));
    const objects = renderChart({ set });
    const config = loadWorkerConfig({}, containerEnv(workerContainer(objects), { fields: POD }));
    const { inferenceThreads, ...same } = values;
    expect(config).toMatchObject({ ...same, threads: inferenceThreads, ...(hasFileRoots ? { fileRoots: ['/data', '/mnt/photos'] } : {}) });
    expect(only(objects, 'Deployment').spec.template.spec.terminationGracePeriodSeconds).toBe(60);
  });

  // values.schema.json mirrors src/config: helm refuses what the worker refuses, at the same limits.
  it.each([
    ['config.batch', 'FACEFLEET_BATCH', 256, 257],
    ['config.batch', 'FACEFLEET_BATCH', 1, 0],
    ['config.canvas', 'FACEFLEET_CANVAS', 64, 63],
    ['config.maxTiles', 'FACEFLEET_MAX_TILES', 64, 65],
    ['config.maxWaitMs', 'FACEFLEET_MAX_WAIT_MS', 60000, 60001],
    ['config.concurrency', 'FACEFLEET_CONCURRENCY', 10000, 10001],
    ['config.inferenceThreads', 'FACEFLEET_INFERENCE_THREADS', 256, 257],
    ['config.drainTimeoutMs', 'FACEFLEET_DRAIN_TIMEOUT_MS', 1000, 999],
    ['config.lockDurationMs', 'FACEFLEET_LOCK_DURATION_MS', 5000, 4999],
    ['config.stalledIntervalMs', 'FACEFLEET_STALLED_INTERVAL_MS', 3600000, 3600001],
    ['config.attempts', 'FACEFLEET_ATTEMPTS', 1, 0],
    ['config.decodeThreads', 'FACEFLEET_DECODE_THREADS', 64, 65],
    ['config.maxImageMb', 'FACEFLEET_MAX_IMAGE_MB', 4096, 4097],
    ['config.maxMegapixels', 'FACEFLEET_MAX_MEGAPIXELS', 10000, 10001],
    ['config.scoreThreshold', 'FACEFLEET_SCORE_THRESHOLD', 1, 1.5],
    ['config.queue', 'FACEFLEET_QUEUE', '{a}.b_c-1', 'a b'],
    ['config.redisPrefix', 'FACEFLEET_REDIS_PREFIX', '{ff}', 'a:b'],
    ['config.providers', 'FACEFLEET_PROVIDERS', 'cuda,cpu', 'gpu'],
  ] as Array<[string, string, string | number, string | number]>)('%s (%s): accepts %p, refuses %p like the worker', (key, envName, good, bad) => {
    const env = containerEnv(workerContainer(renderChart({ set: { [key]: good } })), { fields: POD });
    expect(env[envName]).toBe(String(good));
    expect(() => loadWorkerConfig({}, env)).not.toThrow();
    const refused = templateChart({ set: { [key]: bad } });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain(key.replace('config.', ''));
    expect(() => loadWorkerConfig({}, { ...env, [envName]: String(bad) })).toThrow(/invalid configuration/);
  });

  it.each([
    ['a Redis password in the URL', { 'redis.url': 'redis://:hunter2@redis:6379' }, /redis\/url/],
    ['credentials in the S3 endpoint', { 's3.endpoint': 'https://minio:hunter2@minio.storage:9000' }, /s3\.endpoint must not carry credentials \(user:password@\).*s3\.existingSecret/],
    ['a user name in the S3 endpoint', { 's3.endpoint': 'http://hunter2@minio.storage:9000/' }, /s3\.endpoint must not carry credentials/],
    ['KEDA and the HPA at once', { 'autoscaling.keda.enabled': true, 'autoscaling.hpa.enabled': true }, /exclusive|not/],
    ['mogface without a model file', { 'config.model': 'mogface' }, /modelPath/],
    ['a grace period at or below the drain deadline', { terminationGracePeriodSeconds: 25 }, /terminationGracePeriodSeconds \(25\) must be above/],
    ['scale to zero with only a whole Redis URL secret', { 'autoscaling.keda.enabled': true, 'autoscaling.keda.scaleToZero': true, 'redis.existingSecret': 's', 'redis.urlKey': 'url' }, /passwordKey/],
    ['an HPA on a queue name that is no label value', { 'autoscaling.hpa.enabled': true, 'config.queue': '{ff}' }, /label value/],
  ] as Array<[string, Record<string, string | number | boolean>, RegExp]>)('refuses %s', (_what, set, message) => {
    const run = templateChart({ set });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).not.toContain('hunter2');
  });

  it('renders an S3 endpoint without credentials as given, also with an @ in its path', () => {
    for (const endpoint of ['https://minio.storage:9000', 'http://10.0.0.5:9000/', 'https://minio.storage/a@b']) {
      const env = containerEnv(workerContainer(renderChart({ set: { 's3.endpoint': endpoint } })), { fields: POD });
      expect(env.FACEFLEET_S3_ENDPOINT).toBe(endpoint);
    }
  });

  it('passes secret extraEnv given with valueFrom as a secret reference, never as a value (the documented way)', () => {
    const values = fs.readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8');
    expect(values).toMatch(/extraEnv:\n# {5}- name: FACEFLEET_API_TOKEN\n# {7}valueFrom:\n# {9}secretKeyRef:/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-helm-env-'));
    try {
      const file = path.join(dir, 'values.yaml');
      fs.writeFileSync(file, 'extraEnv:\n  - name: FACEFLEET_API_TOKEN\n    valueFrom:\n      secretKeyRef: { name: facefleet-api, key: token }\n');
      const worker = workerContainer(renderChart({ valuesFiles: [file] }));
      const entry = (worker.env as Array<{ name: string; value?: string; valueFrom?: unknown }>).find((e) => e.name === 'FACEFLEET_API_TOKEN');
      expect(entry).toEqual({ name: 'FACEFLEET_API_TOKEN', valueFrom: { secretKeyRef: { name: 'facefleet-api', key: 'token' } } });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
