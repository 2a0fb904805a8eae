//! The daemon's services: listing them, the service actions (start, stop, restart,
//! replan, autostart) as changes, and states the harness sets.

use super::*;
use crate::layer::Service;

impl ContainerState {
    /// `get_services`: every service in the plan with its status, by name.
    pub fn service_infos(&self, names: &[String]) -> Vec<ServiceInfo> {
        self.plan
            .services
            .iter()
            .filter(|(n, _)| names.is_empty() || names.contains(n))
            .map(|(name, cfg)| ServiceInfo {
                name: name.clone(),
                startup: if cfg.startup == "enabled" {
                    "enabled".into()
                } else {
                    "disabled".into()
                },
                current: self
                    .services
                    .get(name)
                    .map_or(ServiceStatus::Inactive, |s| s.state.status()),
            })
            .collect()
    }

    /// `POST /v1/services`: builds the change and runs it (services start at once).
    pub fn services_action(&mut self, action: &str, names: &[String]) -> Result<String, ApiError> {
        let mut names = names.to_vec();
        match action {
            "replan" => {
                if !names.is_empty() {
                    return Err(ApiError::bad_request(format!(
                        "{action} accepts no service names"
                    )));
                }
            }
            "autostart" => {
                if !names.is_empty() {
                    return Err(ApiError::bad_request(format!(
                        "{action} accepts no service names"
                    )));
                }
                let enabled: Vec<String> = self
                    .plan
                    .services
                    .iter()
                    .filter(|(_, s)| s.startup == "enabled")
                    .map(|(n, _)| n.clone())
                    .collect();
                names = self
                    .plan
                    .start_order(&enabled)
                    .map_err(ApiError::internal)?;
                if names.is_empty() {
                    return Err(ApiError {
                        status: 400,
                        message: "no default services".into(),
                        kind: Some("no-default-services"),
                    });
                }
            }
            _ => {
                if names.is_empty() {
                    return Err(ApiError::bad_request(format!(
                        "must specify services for {action} action"
                    )));
                }
            }
        }
        let fail = |e: String| ApiError::bad_request(format!("cannot {action} services: {e}"));
        let (stop, start, mut summary_names): (Vec<String>, Vec<String>, Vec<String>) = match action
        {
            "start" | "autostart" => {
                let start = self.plan.start_order(&names).map_err(fail)?;
                (Vec::new(), start.clone(), start)
            }
            "stop" => {
                let stop = self.plan.stop_order(&names).map_err(fail)?;
                (stop.clone(), Vec::new(), stop)
            }
            "restart" => {
                let stop: Vec<String> = self
                    .plan
                    .stop_order(&names)
                    .map_err(fail)?
                    .into_iter()
                    .filter(|n| names.contains(n))
                    .collect();
                let start = self.plan.start_order(&names).map_err(fail)?;
                // Pebble counts the services to start in the summary.
                (stop, start.clone(), start)
            }
            "replan" => {
                let (stop, start) = self.replan_sets().map_err(fail)?;
                let mut all: Vec<String> = stop.iter().chain(start.iter()).cloned().collect();
                all.sort();
                all.dedup();
                names = all.clone();
                (stop, start, all)
            }
            other => return Err(ApiError::bad_request(format!("invalid action {other:?}"))),
        };
        let title = title_case(action);
        let mut tasks = Vec::new();
        for n in &stop {
            let t = self.new_task("stop", format!("Stop service {n:?}"), Status::Do);
            tasks.push(t);
        }
        for n in &start {
            let t = self.new_task("start", format!("Start service {n:?}"), Status::Do);
            tasks.push(t);
        }
        if tasks.is_empty() {
            let ci = self.add_change(action, format!("{title} - no services"), Vec::new());
            self.changes[ci].fixed_status = Some(Status::Done);
            self.change_updated(ci);
            return Ok(self.changes[ci].id.clone());
        }
        summary_names.dedup();
        let first = names.first().cloned().unwrap_or_default();
        let summary = if summary_names.len() <= 1 {
            format!("{title} service {first:?}")
        } else {
            format!(
                "{title} service {first:?} and {} more",
                summary_names.len() - 1
            )
        };
        let ci = self.add_change(action, summary, tasks);
        self.changes[ci].service_names = names.clone();
        let ops: Vec<(bool, String)> = stop
            .iter()
            .map(|n| (false, n.clone()))
            .chain(start.iter().map(|n| (true, n.clone())))
            .collect();
        self.run_service_change(ci, &ops);
        if action == "replan" {
            self.replan_checks();
        }
        Ok(self.changes[ci].id.clone())
    }

    /// `ServiceManager.Replan`: services whose configuration changed since they started
    /// are stopped and started again; `startup: enabled` services are started.
    fn replan_sets(&mut self) -> Result<(Vec<String>, Vec<String>), String> {
        let mut needs_restart = Vec::new();
        for (name, rt) in self.services.iter_mut() {
            match self.plan.services.get(name) {
                Some(cfg) if *cfg == rt.config => continue,
                Some(cfg) => rt.config = cfg.clone(),
                None => {}
            }
            needs_restart.push(name.clone());
        }
        let start: Vec<String> = self
            .plan
            .services
            .iter()
            .filter(|(n, s)| needs_restart.contains(n) || s.startup == "enabled")
            .map(|(n, _)| n.clone())
            .collect();
        let stop_known: Vec<String> = needs_restart
            .iter()
            .filter(|n| self.plan.services.contains_key(*n))
            .cloned()
            .collect();
        let stop = self.plan.stop_order(&stop_known)?;
        let start = self.plan.start_order(&start)?;
        Ok((stop, start))
    }

    /// Runs a service change's tasks in order: the first failure holds the rest.
    fn run_service_change(&mut self, ci: usize, ops: &[(bool, String)]) {
        let mut failed = false;
        for (ti, (is_start, name)) in ops.iter().enumerate() {
            if failed {
                self.changes[ci].tasks[ti].status = Status::Hold;
                continue;
            }
            let (log, err) = if *is_start {
                self.do_start(name)
            } else {
                self.do_stop(name)
            };
            if let Some(l) = log {
                self.changes[ci].tasks[ti].logf("INFO", &l);
            }
            failed = err.is_some();
            self.finish_task(ci, ti, err);
        }
        self.services_moved();
        self.change_updated(ci);
    }

    /// A `start` task. Returns (task log line, error).
    fn do_start(&mut self, name: &str) -> (Option<String>, Option<String>) {
        let Some(cfg) = self.plan.services.get(name).cloned() else {
            return (None, Some(format!("cannot find service {name:?} in plan")));
        };
        let now = Timestamp::now();
        if let Some(rt) = self.services.get_mut(name) {
            rt.config = cfg.clone();
            if rt.state == ServiceState::Running {
                return (Some(format!("Service {name:?} already started.")), None);
            }
        }
        if let Some(code) = self.start_failures.get(name).copied() {
            let state = match cfg.on_failure.as_str() {
                "ignore" | "shutdown" | "success-shutdown" | "failure-shutdown" => {
                    ServiceState::Exited
                }
                _ => ServiceState::Backoff,
            };
            self.set_service_state(name, state, cfg, now);
            return (
                None,
                Some(format!(
                    "cannot start service: exited quickly with code {code}"
                )),
            );
        }
        self.set_service_state(name, ServiceState::Running, cfg, now);
        (None, None)
    }

    /// A `stop` task.
    fn do_stop(&mut self, name: &str) -> (Option<String>, Option<String>) {
        let now = Timestamp::now();
        let Some(rt) = self.services.get_mut(name) else {
            return (
                Some(format!("Service {name:?} has never been started.")),
                None,
            );
        };
        match rt.state {
            ServiceState::Stopped => (Some(format!("Service {name:?} already stopped.")), None),
            ServiceState::Exited => {
                rt.state = ServiceState::Stopped;
                rt.current_since = now;
                (Some(format!("Service {name:?} had already exited.")), None)
            }
            _ => {
                rt.state = ServiceState::Stopped;
                rt.current_since = now;
                (None, None)
            }
        }
    }

    /// Sets a service's state (harness side too: a crash is `Backoff` or `Exited`).
    pub fn set_service_state(
        &mut self,
        name: &str,
        state: ServiceState,
        config: Service,
        now: Timestamp,
    ) {
        match self.services.get_mut(name) {
            Some(rt) => {
                if rt.state.status() != state.status() {
                    rt.current_since = now;
                }
                rt.state = state;
                rt.config = config;
            }
            None => {
                self.services.insert(
                    name.to_string(),
                    ServiceRuntime {
                        state,
                        config,
                        current_since: now,
                    },
                );
            }
        }
        self.services_moved();
    }
}

fn title_case(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::{add, state};

    #[test]
    fn replan_starts_enabled_and_restarts_changed() {
        let (_d, mut st) = state();
        add(
            &mut st,
            "a",
            "services:\n  web: {override: replace, command: /bin/web, startup: enabled}\n  side: {override: replace, command: /bin/side}\n",
        );
        let id = st.services_action("replan", &[]).unwrap();
        let c = &st.changes[st.change_index(&id).unwrap()];
        assert_eq!(c.summary, "Replan service \"web\"");
        assert_eq!(c.status(), Status::Done);
        let infos = st.service_infos(&[]);
        assert_eq!(infos[0].name, "side");
        assert_eq!(infos[0].current, ServiceStatus::Inactive);
        assert_eq!(infos[1].current, ServiceStatus::Active);
        // Nothing changed: replan starts web again (already started) and nothing else.
        let id = st.services_action("replan", &[]).unwrap();
        let c = &st.changes[st.change_index(&id).unwrap()];
        assert_eq!(c.tasks.len(), 1);
        assert!(c.tasks[0].log[0].ends_with("Service \"web\" already started."));
        // A changed command: stop then start.
        add(
            &mut st,
            "b",
            "services:\n  web: {override: merge, command: /bin/web2}\n",
        );
        let id = st.services_action("replan", &[]).unwrap();
        let c = &st.changes[st.change_index(&id).unwrap()];
        let kinds: Vec<&str> = c.tasks.iter().map(|t| t.kind.as_str()).collect();
        assert_eq!(kinds, vec!["stop", "start"]);
    }

    #[test]
    fn unknown_service_and_start_failures() {
        let (_d, mut st) = state();
        add(
            &mut st,
            "a",
            "services:\n  web: {override: replace, command: x}\n",
        );
        let e = st.services_action("start", &["nope".into()]).unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(
            e.message,
            "cannot start services: service \"nope\" does not exist"
        );
        st.start_failures.insert("web".into(), 1);
        let id = st.services_action("start", &["web".into()]).unwrap();
        let c = &st.changes[st.change_index(&id).unwrap()];
        assert_eq!(c.status(), Status::Error);
        assert_eq!(
            c.err().unwrap(),
            "cannot perform the following tasks:\n- Start service \"web\" (cannot start service: exited quickly with code 1)"
        );
        assert_eq!(st.service_infos(&[])[0].current, ServiceStatus::Backoff);
        let e = st.services_action("autostart", &[]).unwrap_err();
        assert_eq!(e.kind, Some("no-default-services"));
        let id = st.services_action("replan", &[]).unwrap();
        assert_eq!(
            st.changes[st.change_index(&id).unwrap()].summary,
            "Replan - no services"
        );
    }
}
