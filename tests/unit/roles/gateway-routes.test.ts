import { describe, expect, test } from "bun:test";
import { matchRoute, routeTemplate } from "../../../src/roles/gateway/routes.ts";

describe("gateway routes", () => {
  const tpl = (path: string) => routeTemplate(matchRoute(path)!, path);

  test("whole segments only", () => {
    expect(matchRoute("/api/tasks")?.service).toBe("task-service");
    expect(matchRoute("/api/tasks/7")?.service).toBe("task-service");
    expect(matchRoute("/api/tasksX")).toBeUndefined();
    expect(matchRoute("/api/forms/a")?.service).toBe("form-service");
    expect(matchRoute("/health")).toBeUndefined();
  });

  test("templates: ids become :id, words stay, at most three segments, never a raw id or a trailing slash", () => {
    expect(tpl("/api/tasks")).toBe("/api/tasks");
    expect(tpl("/api/tasks/")).toBe("/api/tasks");
    expect(tpl("/api/tasks//")).toBe("/api/tasks");
    expect(tpl("/api/tasks/7")).toBe("/api/tasks/:id");
    expect(tpl("/api/tasks/stream")).toBe("/api/tasks/stream");
    expect(tpl("/api/tasks/7/")).toBe("/api/tasks/:id");
    expect(tpl("/api/tasks//7")).toBe("/api/tasks/:id");
    expect(tpl("/api/forms/leave_request/versions/3")).toBe("/api/forms/leave_request/versions/:id");
    expect(tpl("/api/processes/abc-1/steps/x/y/z")).toBe("/api/processes/:id/steps/x");
    expect(tpl("/api/tasks/Stream")).toBe("/api/tasks/:id");
    expect(tpl("/api/tasks/%C3%A9")).toBe("/api/tasks/:id");
  });
});
