"""Cases: the tracked record of a complaint, its priority, deadlines and audit trail."""
