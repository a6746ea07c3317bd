// The leave-request example of docs/bpm-model.md (a test checks the doc shows exactly these).
export const leaveRequestForm = {
  key: "leave-request",
  title: "Leave request",
  fields: [
    { name: "start_date", label: "First day of leave", type: "date", required: true },
    { name: "days", label: "Working days", type: "integer", required: true, min: 1, max: 30 },
    { name: "kind", label: "Kind of leave", type: "enum", options: ["annual", "sick", "unpaid"], default: "annual" },
    { name: "reason", label: "Reason", type: "string", max_length: 500 },
  ],
};

export const leaveApprovalForm = {
  key: "leave-approval",
  title: "Manager decision",
  fields: [
    { name: "approved", label: "Approve this leave?", type: "boolean", required: true },
    { name: "manager_comment", label: "Comment", type: "string", max_length: 500 },
  ],
};

export const leaveRecordForm = {
  key: "leave-record",
  title: "HR record",
  fields: [
    { name: "hr_reference", label: "Payroll reference", type: "string", required: true, pattern: "^HR-[0-9]{4,}$" },
  ],
};

export const leaveProcess = {
  key: "leave",
  name: "Leave request",
  steps: [
    { id: "request", name: "Request leave", form_key: "leave-request", assignee: "${employee_id}", default_next: "manager-approval" },
    {
      id: "manager-approval",
      name: "Manager approval",
      form_key: "leave-approval",
      assignee: "${manager_id}",
      priority: "high",
      transitions: [{ condition: "approved == false", target: "rejected" }],
      default_next: "hr-record",
    },
    { id: "hr-record", name: "Record in HR", form_key: "leave-record", assignee: "${hr_id}", default_next: "approved" },
  ],
  end_states: [
    { id: "approved", name: "Leave approved and recorded" },
    { id: "rejected", name: "Leave rejected by the manager" },
  ],
};

export const leaveForms = [leaveRequestForm, leaveApprovalForm, leaveRecordForm];
