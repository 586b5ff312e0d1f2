/**
 * Spinnaker installed by a Helm chart, as the sandbox installs it: stable/spinnaker 2.2.x
 * (helm/charts stable/spinnaker) or OpsMx's spinnaker-helm (charts/spinnaker), release
 * `spinnaker`. Each object names the chart template it follows (docs/SPINNAKER-INSTALLS.md §5):
 *
 * - `chartObjects`: the two ConfigMaps (templates/configmap/service-settings.yaml,
 *   templates/configmap/additional-profile-configmaps.yaml: maps through toYaml, keys sorted), the
 *   Halyard StatefulSet and its pod (templates/statefulsets/halyard.yaml: labels
 *   spinnaker.standard-labels plus `component: halyard`), and the Bitnami Redis the chart pulls in:
 *   StatefulSet `<release>-redis-master` and Secret `<release>-redis` key `redis-password`
 *   (stable/redis 10.5.3 templates/redis-master-statefulset.yaml and secret.yaml for helm-stable;
 *   bitnami/redis 16.13.1 templates/master/statefulset.yaml, replicas/statefulset.yaml and
 *   secret.yaml for helm-opsmx, whose `architecture: replication` adds `<release>-redis-replicas`);
 * - `initContainer`: the Halyard pod's init container `create-halyard-local`
 *   (templates/configmap/halyard-init-script.yaml init.sh: `rm -rf` then `cp` of both ConfigMaps
 *   into ~/.hal/default/service-settings and profiles), run at every Halyard pod start;
 * - `helmUpgrade`: what `helm upgrade` with unchanged values does to these objects (Helm 3's
 *   three-way merge: the keys the chart renders go back to their rendering, keys only in the
 *   cluster stay; the StatefulSets' replicas back to the chart's), then the post-upgrade hook Job
 *   `<release>-install-using-hal` (templates/hooks/install-using-hal.yaml: install.sh ends in
 *   `hal deploy apply`) run against the Halyard pod, which the upgrade restarts only when the
 *   init script changed (its `checksum/config` annotation covers only that ConfigMap).
 *
 * In the sandbox the Services' DNS names stand for 127.0.0.1 and spin-redis's port: the chart's
 * `redis://:<password>@spinnaker-redis-master:6379` is written with that address.
 */
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import type { KubeObject, ObjectStore } from '../kubernetes/store.js';

export type ChartFlavor = 'helm-stable' | 'helm-opsmx';

export const RELEASE = 'spinnaker';
/** spinnaker.fullname (templates/_helpers.tpl): `<release>-<chart>` truncated to 24. */
export const FULLNAME = `${RELEASE}-spinnaker`.slice(0, 24).replace(/-$/, '');
export const SERVICE_SETTINGS = `${FULLNAME}-service-settings`;
export const PROFILES = `${FULLNAME}-additional-profile-config-maps`;
export const HALYARD_STATEFULSET = `${FULLNAME}-halyard`;
export const HALYARD_POD = `${HALYARD_STATEFULSET}-0`;
/** redis.fullname: `<release>-redis` (the release name does not contain "redis"). */
export const REDIS_MASTER = `${RELEASE}-redis-master`;
export const REDIS_REPLICAS = `${RELEASE}-redis-replicas`;
export const REDIS_SECRET = `${RELEASE}-redis`;
export const REDIS_SECRET_KEY = 'redis-password';

const CHART_VERSION: Record<ChartFlavor, string> = { 'helm-stable': 'spinnaker-2.2.6', 'helm-opsmx': 'spinnaker-2.2.19' };

/** spinnaker.standard-labels */
export function standardLabels(flavor: ChartFlavor): Record<string, string> {
  return { app: FULLNAME, heritage: 'Helm', release: RELEASE, chart: CHART_VERSION[flavor] };
}

/** The Bitnami master's labels: stable/redis 10 `app: redis, role: master`; bitnami/redis 16 the app.kubernetes.io ones. */
export function redisMasterLabels(flavor: ChartFlavor): Record<string, string> {
  return flavor === 'helm-stable'
    ? { app: 'redis', release: RELEASE, role: 'master' }
    : { 'app.kubernetes.io/name': 'redis', 'app.kubernetes.io/instance': RELEASE, 'app.kubernetes.io/component': 'master' };
}

/** A random password, as Bitnami generates one when neither `password` nor an existing Secret is given; never printed. */
export function bitnamiPassword(): string {
  return randomBytes(12)
    .toString('base64url')
    .replace(/[^A-Za-z0-9]/g, 'x');
}

/** What the chart renders into the two ConfigMaps with the default values (no ingress, no minio). */
export function renderedData(spinRedisAddress: string, password: string): Record<string, Record<string, string>> {
  return {
    // spinnaker.redisBaseURL: redis://:<redis.password>@<release>-redis-master:6379 (not escaped, no TLS).
    [SERVICE_SETTINGS]: {
      'deck.yml': stringify({ API_HOST: 'http://spin-gate:8084' }),
      'redis.yml': stringify({ overrideBaseUrl: `redis://:${password}@${spinRedisAddress}`, skipLifeCycleManagement: true }),
    },
    [PROFILES]: { 'gate-local.yml': stringify({}) },
  };
}

function statefulSet(name: string, labels: Record<string, string>, selector: Record<string, string>, replicas: number, containers: object[], extra: object = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, labels },
    spec: { replicas, serviceName: name, selector: { matchLabels: selector }, template: { metadata: { labels: { ...selector, ...labels } }, spec: { containers } }, ...extra },
    status: { observedGeneration: 1, replicas, readyReplicas: replicas, currentReplicas: replicas, updatedReplicas: replicas },
  };
}

/** The objects the chart creates, in the namespace (the Halyard pod and the Redis pods are made by the simulation's controllers). */
export function chartObjects(flavor: ChartFlavor, namespace: string, spinRedisAddress: string, password: string): KubeObject[] {
  const labels = standardLabels(flavor);
  const data = renderedData(spinRedisAddress, password);
  const master = redisMasterLabels(flavor);
  const redisContainer = [
    {
      name: 'redis',
      image: flavor === 'helm-stable' ? 'docker.io/bitnami/redis:5.0.7-debian-10-r0' : 'docker.io/bitnami/redis:6.2.7-debian-11-r9',
      ports: [{ name: 'redis', containerPort: 6379 }],
      env: [{ name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: REDIS_SECRET, key: REDIS_SECRET_KEY } } }],
      volumeMounts: [{ name: 'redis-data', mountPath: '/data' }],
    },
  ];
  const pvc = { volumeClaimTemplates: [{ metadata: { name: 'redis-data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '8Gi' } } } }] };
  const objects: KubeObject[] = [
    // templates/configmap/service-settings.yaml
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: SERVICE_SETTINGS, namespace, labels }, data: data[SERVICE_SETTINGS] },
    // templates/configmap/additional-profile-configmaps.yaml
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: PROFILES, namespace, labels }, data: data[PROFILES] },
    // stable/redis 10.5.3 templates/secret.yaml; bitnami/redis 16.13.1 templates/secret.yaml
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: REDIS_SECRET, namespace, labels: flavor === 'helm-stable' ? { app: 'redis', release: RELEASE } : { 'app.kubernetes.io/name': 'redis', 'app.kubernetes.io/instance': RELEASE } },
      type: 'Opaque',
      data: { [REDIS_SECRET_KEY]: Buffer.from(password).toString('base64') },
    },
    // templates/statefulsets/halyard.yaml (the init container is initContainerFiles below)
    statefulSet(HALYARD_STATEFULSET, { ...labels, component: 'halyard' }, { app: FULLNAME, release: RELEASE, component: 'halyard' }, 1, [
      { name: 'halyard', image: 'us-docker.pkg.dev/spinnaker-community/docker/halyard:1.45.0', ports: [{ name: 'daemon', containerPort: 8064 }] },
    ]),
    // stable/redis 10.5.3 templates/redis-master-statefulset.yaml; bitnami/redis 16.13.1 templates/master/statefulset.yaml
    statefulSet(REDIS_MASTER, master, master, 1, redisContainer, pvc),
  ];
  if (flavor === 'helm-opsmx') {
    // bitnami/redis 16.13.1 templates/replicas/statefulset.yaml
    const replica = { ...master, 'app.kubernetes.io/component': 'replica' };
    // architecture: replication, replica.replicaCount 3 (one of them runs as a real replica of the master in the sandbox: nothing of Spinnaker reads them).
    objects.push({ ...statefulSet(REDIS_REPLICAS, replica, replica, 3, redisContainer, pvc), status: { observedGeneration: 1, replicas: 3, readyReplicas: 3 } });
  }
  return objects.map((o) => ({ ...o, metadata: { ...o.metadata, namespace } }));
}

/** The Halyard pod's files from the ConfigMaps (templates/configmap/halyard-init-script.yaml init.sh): both directories wiped, then every key copied. */
export function initContainerFiles(store: ObjectStore, namespace: string, halHome: string): Map<string, string> {
  const files = new Map<string, string>();
  const dir = `${halHome}/default`;
  for (const [cm, sub] of [
    [SERVICE_SETTINGS, 'service-settings'],
    [PROFILES, 'profiles'],
  ] as const) {
    const data = (store.get('ConfigMap', namespace, cm)?.data ?? {}) as Record<string, string>;
    for (const [key, content] of Object.entries(data)) files.set(`${dir}/${sub}/${key}`, content);
  }
  return files;
}

/**
 * `helm upgrade` with the values it was installed with: the chart's keys re-rendered (our changes
 * to redis.yml and gate-local.yml undone), the keys we added left alone, the annotations too (not
 * in the manifests); the Redis StatefulSets back at the chart's replicas; the hook Job recreated
 * (hook-delete-policy before-hook-creation). The caller runs the hook's `hal deploy apply`.
 */
// templates/hooks/install-using-hal.yaml for the Job; Helm 3's three-way merge (helm pkg/kube client.go Update) for the rest.
export function helmUpgradeObjects(store: ObjectStore, flavor: ChartFlavor, namespace: string, spinRedisAddress: string, password: string): void {
  const data = renderedData(spinRedisAddress, password);
  for (const name of [SERVICE_SETTINGS, PROFILES]) {
    const cm = store.get('ConfigMap', namespace, name);
    if (cm) store.update({ ...cm, data: { ...((cm.data as Record<string, string>) ?? {}), ...data[name] } });
  }
  for (const [name, replicas] of [[REDIS_MASTER, 1], ...(flavor === 'helm-opsmx' ? [[REDIS_REPLICAS, 3] as const] : [])] as const) {
    const sts = store.get('StatefulSet', namespace, name);
    if (sts && (sts.spec as { replicas?: number }).replicas !== replicas) store.update({ ...sts, spec: { ...(sts.spec as object), replicas } });
  }
  const job = `${RELEASE}-install-using-hal`;
  if (store.get('Job', namespace, job)) store.delete('Job', namespace, job);
  store.create({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: job,
      namespace,
      labels: standardLabels(flavor),
      annotations: { 'helm.sh/hook': 'post-install,post-upgrade', 'helm.sh/hook-delete-policy': 'before-hook-creation', 'helm.sh/hook-weight': '0' },
    },
    spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'halyard-install', command: ['bash', '-xe', '/opt/halyard/scripts/install.sh'] }] } } },
    status: { succeeded: 1 },
  });
}
