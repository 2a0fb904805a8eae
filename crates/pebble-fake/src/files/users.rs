//! The container's (virtual) users and groups: names resolved to ids, unknown names
//! created on first use, and the ids shown back as names.

use std::collections::BTreeMap;

/// A user in the container's (virtual) user database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

/// The container's users and groups. Workload images have their own `/etc/passwd`, which
/// we cannot see; by default an unknown name is created on first use (so a charm pushing a
/// file as `user="postgres"` works as it would in its image), or, with `auto_create` off,
/// refused with Go's `user: unknown user postgres`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Users {
    pub users: BTreeMap<String, UserEntry>,
    pub groups: BTreeMap<String, u32>,
    pub auto_create: bool,
}

impl Default for Users {
    fn default() -> Self {
        let mut users = BTreeMap::new();
        users.insert(
            "root".to_string(),
            UserEntry {
                uid: 0,
                gid: 0,
                home: "/root".into(),
            },
        );
        let mut groups = BTreeMap::new();
        groups.insert("root".to_string(), 0);
        Users {
            users,
            groups,
            auto_create: true,
        }
    }
}

impl Users {
    fn lookup_user(&mut self, name: &str) -> Result<UserEntry, String> {
        if let Some(u) = self.users.get(name) {
            return Ok(u.clone());
        }
        if !self.auto_create {
            return Err(format!("user: unknown user {name}"));
        }
        let uid = (1000..)
            .find(|id| self.users.values().all(|u| u.uid != *id))
            .unwrap_or(1000);
        let gid = match self.groups.get(name) {
            Some(g) => *g,
            None => {
                let g = (uid..)
                    .find(|id| self.groups.values().all(|g| g != id))
                    .unwrap_or(uid);
                self.groups.insert(name.to_string(), g);
                g
            }
        };
        let entry = UserEntry {
            uid,
            gid,
            home: format!("/home/{name}"),
        };
        self.users.insert(name.to_string(), entry.clone());
        Ok(entry)
    }

    fn lookup_group(&mut self, name: &str) -> Result<u32, String> {
        if let Some(g) = self.groups.get(name) {
            return Ok(*g);
        }
        if !self.auto_create {
            return Err(format!("group: unknown group {name}"));
        }
        let g = (1000..)
            .find(|id| self.groups.values().all(|g| g != id))
            .unwrap_or(1000);
        self.groups.insert(name.to_string(), g);
        Ok(g)
    }

    /// The user name for a uid ("" if none), as Go's `user.LookupId` would give.
    pub fn user_name(&self, uid: u32) -> String {
        self.users
            .iter()
            .find(|(_, u)| u.uid == uid)
            .map(|(n, _)| n.clone())
            .unwrap_or_default()
    }

    /// The group name for a gid ("" if none).
    pub fn group_name(&self, gid: u32) -> String {
        self.groups
            .iter()
            .find(|(_, g)| **g == gid)
            .map(|(n, _)| n.clone())
            .unwrap_or_default()
    }

    /// The home directory of a uid (`/` if unknown).
    pub fn home_of(&self, uid: u32) -> Option<(String, String)> {
        self.users
            .iter()
            .find(|(_, u)| u.uid == uid)
            .map(|(n, u)| (n.clone(), u.home.clone()))
    }

    /// Pebble's `osutil.NormalizeUidGid`: turns the user/group fields of a request into a
    /// uid and gid (or none when nothing was asked for).
    pub fn normalize(
        &mut self,
        uid: Option<i64>,
        gid: Option<i64>,
        user: &str,
        group: &str,
    ) -> Result<Option<(u32, u32)>, String> {
        if uid.is_none() && gid.is_none() && user.is_empty() && group.is_empty() {
            return Ok(None);
        }
        let mut uid = uid.map(|u| u as u32);
        let mut gid = gid.map(|g| g as u32);
        if !user.is_empty() {
            let u = self.lookup_user(user)?;
            if let Some(want) = uid
                && want != u.uid
            {
                return Err(format!(
                    "user {user:?} UID ({}) does not match user-id ({want})",
                    u.uid
                ));
            }
            uid = Some(u.uid);
            if gid.is_none() && group.is_empty() {
                gid = Some(u.gid);
            }
        }
        if !group.is_empty() {
            let g = self.lookup_group(group)?;
            if let Some(want) = gid
                && want != g
            {
                return Err(format!(
                    "group {group:?} GID ({g}) does not match group-id ({want})"
                ));
            }
            gid = Some(g);
        }
        match (uid, gid) {
            (None, Some(_)) => Err("must specify user, not just group".into()),
            (Some(u), None) => match self.users.values().find(|e| e.uid == u) {
                Some(e) => Ok(Some((u, e.gid))),
                None if self.auto_create => Ok(Some((u, u))),
                None => Err("must specify group, not just UID".into()),
            },
            (Some(u), Some(g)) => Ok(Some((u, g))),
            (None, None) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_normalize() {
        let mut u = Users::default();
        assert_eq!(u.normalize(None, None, "", ""), Ok(None));
        assert_eq!(u.normalize(None, None, "root", ""), Ok(Some((0, 0))));
        let pg = u.normalize(None, None, "postgres", "").unwrap().unwrap();
        assert_eq!(pg.0, 1000);
        assert_eq!(u.user_name(1000), "postgres");
        assert_eq!(
            u.normalize(None, Some(5), "", ""),
            Err("must specify user, not just group".into())
        );
        assert_eq!(
            u.normalize(Some(3), None, "root", ""),
            Err("user \"root\" UID (0) does not match user-id (3)".into())
        );
        u.auto_create = false;
        assert_eq!(
            u.normalize(None, None, "nobody2", ""),
            Err("user: unknown user nobody2".into())
        );
    }
}
