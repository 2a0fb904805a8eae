//! The daemon's health checks: kept in step with the plan, started and stopped, failed
//! and recovered by the harness, and listed.

use super::*;

impl ContainerState {
    /// Keeps running checks in step with the plan: new or changed checks get a fresh
    /// `perform-check` change (unless `startup: disabled`), removed ones are stopped.
    pub fn sync_checks(&mut self) {
        let plan_checks = self.plan.checks.clone();
        let names: Vec<String> = self.checks.keys().cloned().collect();
        for name in names {
            let keep = plan_checks
                .get(&name)
                .is_some_and(|c| *c == self.checks[&name].config);
            if !keep {
                self.stop_check_change(&name);
                self.checks.remove(&name);
            }
        }
        for (name, cfg) in plan_checks {
            if self.checks.contains_key(&name) {
                continue;
            }
            let startup = if cfg.startup == "disabled" {
                "disabled"
            } else {
                "enabled"
            };
            self.checks.insert(
                name.clone(),
                CheckRuntime {
                    name: name.clone(),
                    level: cfg.level.clone(),
                    startup: startup.into(),
                    status: CheckStatus::Inactive,
                    failures: 0,
                    threshold: cfg.threshold.max(0) as u32,
                    change_id: None,
                    config: cfg,
                },
            );
            if startup == "enabled" {
                self.start_check_change(&name, "perform-check");
            }
        }
    }

    /// On replan, checks that are enabled but not running are started again.
    pub(super) fn replan_checks(&mut self) {
        let names: Vec<String> = self
            .checks
            .values()
            .filter(|c| c.startup == "enabled" && c.change_id.is_none())
            .map(|c| c.name.clone())
            .collect();
        for n in names {
            self.start_check_change(&n, "perform-check");
        }
    }

    fn start_check_change(&mut self, name: &str, kind: &str) {
        let Some(check) = self.checks.get(name) else {
            return;
        };
        let verb = if kind == "perform-check" {
            "Perform"
        } else {
            "Recover"
        };
        let summary = format!("{verb} {} check {name:?}", check.config.kind_name());
        let task = self.new_task(kind, summary.clone(), Status::Doing);
        let ci = self.add_change(kind, summary, vec![task]);
        self.changes[ci]
            .data
            .insert("check-name".into(), name.to_string().into());
        let id = self.changes[ci].id.clone();
        let c = self.checks.get_mut(name).expect("checked above");
        c.change_id = Some(id);
        if kind == "perform-check" {
            c.status = CheckStatus::Up;
        }
    }

    fn stop_check_change(&mut self, name: &str) {
        let Some(id) = self.checks.get_mut(name).and_then(|c| c.change_id.take()) else {
            return;
        };
        if let Some(ci) = self.change_index(&id) {
            for t in &mut self.changes[ci].tasks {
                if !t.status.ready() {
                    t.status = Status::Hold;
                }
            }
            self.change_updated(ci);
        }
        if let Some(c) = self.checks.get_mut(name) {
            c.status = CheckStatus::Inactive;
            c.failures = 0;
        }
    }

    /// `POST /v1/checks`: start or stop checks; returns the names that changed.
    pub fn checks_action(
        &mut self,
        action: &str,
        names: &[String],
    ) -> Result<Vec<String>, ApiError> {
        if names.is_empty() {
            return Err(ApiError::bad_request(format!(
                "must specify checks for {action} action"
            )));
        }
        if action != "start" && action != "stop" {
            return Err(ApiError::bad_request(format!("invalid action {action:?}")));
        }
        let mut missing: Vec<String> = names
            .iter()
            .filter(|n| !self.plan.checks.contains_key(*n))
            .cloned()
            .collect();
        if !missing.is_empty() {
            missing.sort();
            return Err(ApiError::bad_request(format!(
                "cannot {action} checks: cannot find checks in plan: {}",
                missing.join(", ")
            )));
        }
        let mut changed = Vec::new();
        for n in names {
            let running = self.checks.get(n).is_some_and(|c| c.change_id.is_some());
            if action == "start" && !running {
                self.start_check_change(n, "perform-check");
                changed.push(n.clone());
            } else if action == "stop" && running {
                self.stop_check_change(n);
                changed.push(n.clone());
            }
        }
        Ok(changed)
    }

    /// Harness: a check crosses its failure threshold (`down`, a `recover-check` change).
    pub fn fail_check(&mut self, name: &str, message: &str) -> bool {
        let Some(c) = self.checks.get(name) else {
            return false;
        };
        if c.status == CheckStatus::Down || c.change_id.is_none() {
            return c.status == CheckStatus::Down;
        }
        let threshold = c.threshold;
        if let Some(id) = c.change_id.clone()
            && let Some(ci) = self.change_index(&id)
        {
            for ti in 0..self.changes[ci].tasks.len() {
                if !self.changes[ci].tasks[ti].status.ready() {
                    self.finish_task(ci, ti, Some(message.to_string()));
                }
            }
        }
        self.start_check_change(name, "recover-check");
        let c = self.checks.get_mut(name).expect("checked above");
        c.status = CheckStatus::Down;
        c.failures = threshold;
        true
    }

    /// Harness: a failing check succeeds again (`up`, a new `perform-check` change).
    pub fn recover_check(&mut self, name: &str) -> bool {
        let Some(c) = self.checks.get(name) else {
            return false;
        };
        if c.status != CheckStatus::Down {
            return c.status == CheckStatus::Up;
        }
        if let Some(id) = c.change_id.clone()
            && let Some(ci) = self.change_index(&id)
        {
            for ti in 0..self.changes[ci].tasks.len() {
                if !self.changes[ci].tasks[ti].status.ready() {
                    self.finish_task(ci, ti, None);
                }
            }
        }
        self.start_check_change(name, "perform-check");
        let c = self.checks.get_mut(name).expect("checked above");
        c.failures = 0;
        true
    }

    /// `GET /v1/checks` entries.
    pub fn checks_json(&self, level: &str, names: &[String]) -> Vec<Value> {
        self.checks
            .values()
            .filter(|c| level.is_empty() || c.level == level)
            .filter(|c| names.is_empty() || names.contains(&c.name))
            .map(CheckRuntime::to_json)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::{add, state};

    #[test]
    fn checks_fail_and_recover() {
        let (_d, mut st) = state();
        add(
            &mut st,
            "a",
            "checks:\n  alive: {override: replace, level: alive, http: {url: 'http://localhost/'}}\n",
        );
        let j = st.checks_json("", &[]);
        assert_eq!(j[0]["status"], "up");
        assert_eq!(j[0]["threshold"], 3);
        assert_eq!(j[0]["change-id"], "1");
        assert!(st.fail_check("alive", "non-200 status code 500"));
        let j = st.checks_json("alive", &[]);
        assert_eq!(j[0]["status"], "down");
        assert_eq!(j[0]["failures"], 3);
        assert_eq!(st.changes[0].status(), Status::Error);
        assert_eq!(st.changes[1].kind, "recover-check");
        assert!(st.recover_check("alive"));
        assert_eq!(st.checks_json("", &[])[0]["status"], "up");
        assert_eq!(
            st.checks_action("stop", &["alive".into()]).unwrap(),
            vec!["alive"]
        );
        assert_eq!(st.checks_json("", &[])[0]["status"], "inactive");
        assert!(st.checks_json("ready", &[]).is_empty());
        // Each change's spawn and status changes were announced.
        assert!(st.notices.iter().any(|n| n.type_ == "change-update"));
    }
}
