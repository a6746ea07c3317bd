import type { InstancesListener, Registry, RegistryHealth, ServiceInstance } from "./types.ts";

/** Instances from config (or from this process's own listeners in --role=all). */
export class StaticRegistry implements Registry {
  private readonly sets = new Map<string, ServiceInstance[]>();
  private readonly listeners = new Map<string, Set<InstancesListener>>();

  constructor(initial: Record<string, readonly ServiceInstance[]> = {}) {
    for (const [service, list] of Object.entries(initial)) this.sets.set(service, [...list]);
  }

  instances(service: string): readonly ServiceInstance[] {
    return this.sets.get(service) ?? [];
  }

  /** Replaces a service's set and tells its watchers. */
  set(service: string, instances: readonly ServiceInstance[]): void {
    this.sets.set(service, [...instances]);
    for (const l of this.listeners.get(service) ?? []) l(this.instances(service));
  }

  /** Adds an instance unless the service already has configured ones. */
  addIfEmpty(instance: ServiceInstance): void {
    if (this.instances(instance.service).length === 0) this.set(instance.service, [instance]);
  }

  watch(service: string, listener: InstancesListener): () => void {
    let set = this.listeners.get(service);
    if (!set) this.listeners.set(service, (set = new Set()));
    set.add(listener);
    listener(this.instances(service));
    return () => set!.delete(listener);
  }

  health(): RegistryHealth {
    return { status: "UP", detail: "static" };
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
