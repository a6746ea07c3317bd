/** "task-service" → "taskService": role names and config instance names refer to one downstream. */
export function instanceName(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
