//! Unix user and group names, cached: uid → name, login shell and group names;
//! gid → name.
//!
//! Collectors see numeric ids (the kernel knows no names); this resolves them through
//! the C library (`getpwuid_r`, `getgrgid_r`, `getgrouplist`, by way of `nix`), so NSS
//! sources such as LDAP or sssd answer as they do for `id`. Answers are cached with a time to live:
//! positive ones for a minute, negative ones for a few seconds, so a user created a
//! moment ago (`useradd`) resolves on the next event rather than a minute later.
//!
//! On Windows the resolver exists but knows nobody (every lookup is `None`); Windows
//! collectors carry names in their events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the user database says about one uid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// The uid.
    pub uid: u32,
    /// Login name.
    pub name: String,
    /// Primary group id.
    pub gid: u32,
    /// Login shell (`/bin/bash`, `/usr/sbin/nologin`), when set.
    pub shell: Option<String>,
    /// Home directory, when set.
    pub home: Option<String>,
    /// Names of every group the user belongs to (primary first, then supplementary, as
    /// `getgrouplist` lists them); a gid with no name is given as its number.
    pub groups: Vec<String>,
}

/// Most entries a cache holds before it is cleared (a bound, not an eviction policy:
/// hosts have far fewer distinct ids than this).
const MAX_ENTRIES: usize = 8192;

#[derive(Debug)]
struct Cached<T> {
    value: T,
    at: Instant,
}

/// A cached uid/gid resolver, shared across threads.
#[derive(Debug)]
pub struct UserResolver {
    users: Mutex<HashMap<u32, Cached<Option<Arc<UserInfo>>>>>,
    groups: Mutex<HashMap<u32, Cached<Option<Arc<str>>>>>,
    ttl: Duration,
    negative_ttl: Duration,
}

impl Default for UserResolver {
    fn default() -> Self {
        Self::new()
    }
}

impl UserResolver {
    /// A resolver that keeps answers for 60 s and "no such id" for 5 s.
    pub fn new() -> Self {
        Self::with_ttl(Duration::from_secs(60), Duration::from_secs(5))
    }

    /// A resolver with explicit times to live for found and missing ids.
    pub fn with_ttl(ttl: Duration, negative_ttl: Duration) -> Self {
        Self {
            users: Mutex::new(HashMap::new()),
            groups: Mutex::new(HashMap::new()),
            ttl,
            negative_ttl,
        }
    }

    fn fresh<T: Clone>(&self, entry: &Cached<Option<T>>) -> Option<Option<T>> {
        let ttl = if entry.value.is_some() {
            self.ttl
        } else {
            self.negative_ttl
        };
        (entry.at.elapsed() < ttl).then(|| entry.value.clone())
    }

    /// The user with this uid, or `None` when the user database has no such uid.
    pub fn user(&self, uid: u32) -> Option<Arc<UserInfo>> {
        {
            let map = self.users.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(hit) = map.get(&uid).and_then(|e| self.fresh(e)) {
                return hit;
            }
        }
        // Looked up without the lock held: NSS may be slow (network directories).
        let found = lookup_user(uid).map(|mut info| {
            info.groups = self.group_names_of(&info);
            Arc::new(info)
        });
        let mut map = self.users.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(
            uid,
            Cached {
                value: found.clone(),
                at: Instant::now(),
            },
        );
        found
    }

    /// The name of the group with this gid, or `None` when there is no such group.
    pub fn group_name(&self, gid: u32) -> Option<Arc<str>> {
        {
            let map = self.groups.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(hit) = map.get(&gid).and_then(|e| self.fresh(e)) {
                return hit;
            }
        }
        let found: Option<Arc<str>> = lookup_group_name(gid).map(Arc::from);
        let mut map = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(
            gid,
            Cached {
                value: found.clone(),
                at: Instant::now(),
            },
        );
        found
    }

    fn group_names_of(&self, info: &UserInfo) -> Vec<String> {
        let gids = group_ids_of(&info.name, info.gid);
        let mut names = Vec::with_capacity(gids.len());
        for gid in gids {
            let name = self
                .group_name(gid)
                .map_or_else(|| gid.to_string(), |n| n.to_string());
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }
}

#[cfg(unix)]
mod sys {
    use super::UserInfo;
    use nix::unistd::{Gid, Group, Uid, User};
    use std::path::Path;

    fn non_empty(s: String) -> Option<String> {
        (!s.is_empty()).then_some(s)
    }

    fn path_text(p: &Path) -> Option<String> {
        non_empty(p.to_string_lossy().into_owned())
    }

    /// `getpwuid_r` through nix, which grows its buffer on `ERANGE`; an error is
    /// answered as "no such user", as the C library's callers do.
    pub fn lookup_user(uid: u32) -> Option<UserInfo> {
        let user = User::from_uid(Uid::from_raw(uid)).ok().flatten()?;
        Some(UserInfo {
            uid,
            gid: user.gid.as_raw(),
            shell: path_text(&user.shell),
            home: path_text(&user.dir),
            name: non_empty(user.name)?,
            groups: Vec::new(),
        })
    }

    /// `getgrgid_r` through nix.
    pub fn lookup_group_name(gid: u32) -> Option<String> {
        let group = Group::from_gid(Gid::from_raw(gid)).ok().flatten()?;
        non_empty(group.name)
    }

    #[cfg(not(target_vendor = "apple"))]
    pub fn group_ids_of(user: &str, primary: u32) -> Vec<u32> {
        let Ok(name) = std::ffi::CString::new(user) else {
            return vec![primary];
        };
        match nix::unistd::getgrouplist(&name, Gid::from_raw(primary)) {
            Ok(gids) => gids.into_iter().map(Gid::as_raw).collect(),
            Err(_) => vec![primary],
        }
    }

    /// nix has no `getgrouplist` for Apple targets (whose groups come from
    /// opendirectoryd), so it is called here, once, with room for far more groups than
    /// a macOS account has; macOS fills in as many as fit when there are more.
    #[cfg(target_vendor = "apple")]
    pub fn group_ids_of(user: &str, primary: u32) -> Vec<u32> {
        const ROOM: usize = 1024;
        let Ok(name) = std::ffi::CString::new(user) else {
            return vec![primary];
        };
        let mut groups: Vec<libc::c_int> = vec![0; ROOM];
        let mut count = ROOM as libc::c_int;
        // SAFETY: `groups` holds `count` elements; the name is NUL-terminated.
        let rc = unsafe {
            libc::getgrouplist(
                name.as_ptr(),
                primary as libc::c_int,
                groups.as_mut_ptr(),
                &mut count,
            )
        };
        let filled = if rc >= 0 { count.max(0) as usize } else { ROOM };
        let gids: Vec<u32> = groups[..filled.min(ROOM)]
            .iter()
            .map(|&g| g as u32)
            .collect();
        if gids.is_empty() {
            vec![primary]
        } else {
            gids
        }
    }
}

#[cfg(not(unix))]
mod sys {
    use super::UserInfo;

    pub fn lookup_user(_uid: u32) -> Option<UserInfo> {
        None
    }

    pub fn lookup_group_name(_gid: u32) -> Option<String> {
        None
    }

    pub fn group_ids_of(_user: &str, primary: u32) -> Vec<u32> {
        vec![primary]
    }
}

/// Looks a uid up in the user database, uncached (its `groups` left empty).
pub fn lookup_user(uid: u32) -> Option<UserInfo> {
    sys::lookup_user(uid)
}

/// Looks a gid's name up in the group database, uncached.
pub fn lookup_group_name(gid: u32) -> Option<String> {
    sys::lookup_group_name(gid)
}

/// Every gid `user` belongs to, `primary` first (the `id -G` list).
pub fn group_ids_of(user: &str, primary: u32) -> Vec<u32> {
    sys::group_ids_of(user, primary)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// Reads a colon-separated database file the way the tests need it.
    #[cfg(target_os = "linux")]
    fn db(path: &str) -> Vec<Vec<String>> {
        std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.split(':').map(str::to_string).collect())
            .collect()
    }

    #[test]
    fn root_resolves_with_shell_and_groups() {
        let r = UserResolver::new();
        let root = r.user(0).expect("uid 0 exists on every Unix");
        assert_eq!(root.name, "root");
        assert_eq!(root.uid, 0);
        assert!(root.shell.as_deref().is_some_and(|s| s.starts_with('/')));
        let gname = r
            .group_name(root.gid)
            .expect("root's primary group has a name");
        assert_eq!(root.groups.first().map(String::as_str), Some(&*gname));
        // A second call is served from the cache: the same allocation comes back.
        let again = r.user(0).expect("cached");
        assert!(Arc::ptr_eq(&root, &again));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn answers_match_etc_passwd_and_etc_group() {
        let r = UserResolver::new();
        let groups = db("/etc/group");
        for entry in db("/etc/passwd").iter().take(20) {
            let uid: u32 = entry[2].parse().expect("numeric uid");
            let info = r.user(uid).expect("every /etc/passwd uid resolves");
            // Several names may share a uid; the first one in the file wins.
            let first = db("/etc/passwd")
                .into_iter()
                .find(|e| e[2] == entry[2])
                .map(|e| e[0].clone());
            assert_eq!(Some(info.name.clone()), first);
            if info.name == entry[0] {
                assert_eq!(
                    info.shell.as_deref(),
                    Some(entry[6].as_str()).filter(|s| !s.is_empty())
                );
                // Every group listing this user as a member is among its groups.
                for g in &groups {
                    let members: Vec<&str> = g[3].split(',').collect();
                    if members.contains(&entry[0].as_str()) {
                        assert!(
                            info.groups.contains(&g[0]),
                            "{} in {}: {:?}",
                            entry[0],
                            g[0],
                            info.groups
                        );
                    }
                }
            }
        }
        for g in groups.iter().take(40) {
            let gid: u32 = g[2].parse().expect("numeric gid");
            let name = r.group_name(gid).expect("every /etc/group gid resolves");
            let first = groups.iter().find(|e| e[2] == g[2]).map(|e| e[0].as_str());
            assert_eq!(Some(&*name), first);
        }
    }

    #[test]
    fn unknown_ids_are_none() {
        let r = UserResolver::new();
        // Far above any allocated id range (and not (uid_t)-2, macOS's "nobody").
        assert_eq!(r.user(4_000_000_123), None);
        assert_eq!(r.group_name(4_000_000_123), None);
        assert_eq!(r.user(4_000_000_123), None, "a cached miss is still a miss");
    }
}
