//! `OriginalFilename` from a PE file's version resource, on every platform.
//!
//! The Elastic rule matches `process.pe.original_file_name == "net.exe"`, so a renamed
//! `net.exe` is still caught. That name lives in the `VS_VERSIONINFO` resource (type
//! `RT_VERSION`): a tree of blocks, each `wLength, wValueLength, wType, szKey` (UTF-16,
//! NUL-terminated), padded to 32 bits, then its value, padded, then its children. The
//! strings sit in `StringFileInfo` → one `StringTable` per language/code page (`040904B0`)
//! → `String` blocks. The `object` crate finds the resource; this module walks the blocks,
//! bounds-checking every read: a malformed file is an `Err`, never a panic.
//!
//! Live collection reads the same image over and over, so [`OriginalFileNameCache`]
//! keeps the answer per path and modification time.

use crate::Error;
use object::pe;
use object::read::pe::{PeFile32, PeFile64, ResourceDirectoryEntryData, ResourceNameOrId};
use object::{FileKind, LittleEndian as LE, ReadRef};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// US English, the language a `StringTable` is preferred in when there are several.
const LANG_EN_US: &str = "0409";

/// The `OriginalFilename` of a PE image held in memory: `Ok(None)` when the file has no
/// version resource or no such string, `Err` when it is not a PE file or its resources
/// are malformed.
pub fn original_file_name(bytes: &[u8]) -> Result<Option<String>, Error> {
    original_file_name_in(bytes)
}

/// The `OriginalFilename` of the PE file at `path`, reading only the headers and the
/// resource section (not the whole image).
pub fn original_file_name_of_path(path: &Path) -> Result<Option<String>, Error> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let cache = object::ReadCache::new(file);
    original_file_name_in(&cache)
}

fn original_file_name_in<'data, R: ReadRef<'data>>(data: R) -> Result<Option<String>, Error> {
    let kind = FileKind::parse(data).map_err(|e| Error::NotPe(e.to_string()))?;
    match kind {
        FileKind::Pe32 => {
            let file = PeFile32::parse(data).map_err(|e| Error::NotPe(e.to_string()))?;
            let sections = file.section_table();
            from_resources(data, file.data_directories(), &sections)
        }
        FileKind::Pe64 => {
            let file = PeFile64::parse(data).map_err(|e| Error::NotPe(e.to_string()))?;
            let sections = file.section_table();
            from_resources(data, file.data_directories(), &sections)
        }
        other => Err(Error::NotPe(format!("a {other:?} file, not a PE image"))),
    }
}

fn from_resources<'data, R: ReadRef<'data>>(
    data: R,
    dirs: object::read::pe::DataDirectories<'data>,
    sections: &object::read::pe::SectionTable<'data>,
) -> Result<Option<String>, Error> {
    let malformed = |e: object::read::Error| Error::MalformedPe(e.to_string());
    let Some(rsrc) = dirs.resource_directory(data, sections).map_err(malformed)? else {
        return Ok(None);
    };
    let root = rsrc.root().map_err(malformed)?;
    // Level 1: type; level 2: name/id; level 3: language.
    for type_entry in root.entries {
        if !matches!(type_entry.name_or_id(), ResourceNameOrId::Id(id) if id == pe::RT_VERSION) {
            continue;
        }
        let Some(names) = type_entry.data(rsrc).map_err(malformed)?.table() else {
            continue;
        };
        for name_entry in names.entries {
            let Some(langs) = name_entry.data(rsrc).map_err(malformed)?.table() else {
                continue;
            };
            for lang_entry in langs.entries {
                let ResourceDirectoryEntryData::Data(entry) =
                    lang_entry.data(rsrc).map_err(malformed)?
                else {
                    continue;
                };
                let rva = entry.offset_to_data.get(LE);
                let size = entry.size.get(LE);
                let (offset, available) = sections.pe_file_range_at(rva).ok_or_else(|| {
                    Error::MalformedPe(format!("version resource RVA {rva:#x} is in no section"))
                })?;
                let blob = data
                    .read_bytes_at(offset.into(), u64::from(size.min(available)))
                    .map_err(|()| {
                        Error::MalformedPe("version resource runs past the file end".into())
                    })?;
                if let Some(name) = string_from_version_info(blob, "OriginalFilename")? {
                    return Ok(Some(name));
                }
            }
        }
    }
    Ok(None)
}

/// One `VS_VERSIONINFO` block.
struct Block<'a> {
    key: String,
    /// The value, from its start to the end of the block (text values are read up to
    /// their NUL, so a wrong `wValueLength`, which some tools write in bytes, is harmless).
    value_to_end: &'a [u8],
    /// The children, as a byte range of the whole buffer.
    children: std::ops::Range<usize>,
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*buf.get(at)?, *buf.get(at + 1)?]))
}

/// Parses the block at `at`; returns it and where it ends.
fn block(buf: &[u8], at: usize) -> Result<(Block<'_>, usize), Error> {
    let bad = |what: &str| Error::MalformedPe(format!("version resource: {what} at {at}"));
    let length = usize::from(u16_at(buf, at).ok_or_else(|| bad("truncated header"))?);
    let value_length = usize::from(u16_at(buf, at + 2).ok_or_else(|| bad("truncated header"))?);
    let value_type = u16_at(buf, at + 4).ok_or_else(|| bad("truncated header"))?;
    if length < 6 {
        return Err(bad("block shorter than its header"));
    }
    let end = at
        .checked_add(length)
        .filter(|e| *e <= buf.len())
        .unwrap_or(buf.len());
    let mut pos = at + 6;
    let mut key = Vec::new();
    loop {
        let c = u16_at(buf, pos)
            .filter(|_| pos + 2 <= end)
            .ok_or_else(|| bad("unterminated key"))?;
        pos += 2;
        if c == 0 {
            break;
        }
        key.push(c);
    }
    let key = String::from_utf16_lossy(&key);
    let is_text = value_type == 1;
    let value_start = align4(pos).min(end);
    let value_bytes = if is_text {
        value_length * 2
    } else {
        value_length
    };
    let children_start = align4(value_start + value_bytes).min(end);
    Ok((
        Block {
            key,
            value_to_end: &buf[value_start..end],
            children: children_start..end,
        },
        end,
    ))
}

/// The blocks directly inside `range`.
fn children(buf: &[u8], range: std::ops::Range<usize>) -> Result<Vec<Block<'_>>, Error> {
    let mut out = Vec::new();
    let mut pos = range.start;
    while pos + 6 <= range.end {
        if u16_at(buf, pos) == Some(0) {
            break; // zero padding at the end of a parent
        }
        let (b, end) = block(buf, pos)?;
        out.push(b);
        let next = align4(end);
        if next <= pos {
            break;
        }
        pos = next;
    }
    Ok(out)
}

fn text_value(b: &Block<'_>) -> String {
    let units: Vec<u16> = b
        .value_to_end
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|c| *c != 0)
        .collect();
    String::from_utf16_lossy(&units).trim().to_string()
}

/// A string (`OriginalFilename`, `FileDescription`, ...) from a `VS_VERSIONINFO` blob,
/// preferring the US English table when there are several. Empty values count as absent.
pub fn string_from_version_info(blob: &[u8], name: &str) -> Result<Option<String>, Error> {
    let (root, _) = block(blob, 0)?;
    if root.key != "VS_VERSION_INFO" {
        return Err(Error::MalformedPe(format!(
            "version resource starts with {:?}, not VS_VERSION_INFO",
            root.key
        )));
    }
    let mut found: Option<String> = None;
    for info in children(blob, root.children.clone())? {
        if info.key != "StringFileInfo" {
            continue;
        }
        for table in children(blob, info.children.clone())? {
            let english = table
                .key
                .get(..4)
                .is_some_and(|l| l.eq_ignore_ascii_case(LANG_EN_US));
            for string in children(blob, table.children.clone())? {
                if !string.key.eq_ignore_ascii_case(name) {
                    continue;
                }
                // A String block's value is read as text even when a tool wrote wType 0.
                let value = text_value(&string);
                if value.is_empty() {
                    continue;
                }
                if english {
                    return Ok(Some(value));
                }
                found.get_or_insert(value);
            }
        }
    }
    Ok(found)
}

/// A cached answer and the file state it was read from.
#[derive(Debug, Clone)]
struct CacheEntry {
    modified: Option<SystemTime>,
    len: u64,
    name: Option<String>,
}

/// Cached [`original_file_name_of_path`]: one read per path and modification time, so a
/// live collector reads each image once however often it runs. Bounded: when full it
/// starts over (images are few; the bound only guards against a flood of one-off paths).
#[derive(Debug)]
pub struct OriginalFileNameCache {
    entries: Mutex<HashMap<PathBuf, CacheEntry>>,
    capacity: usize,
}

impl Default for OriginalFileNameCache {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl OriginalFileNameCache {
    /// A cache of at most `capacity` paths.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The `OriginalFilename` of the file at `path`, from the cache when the file's
    /// modification time and size are the ones it was read with. Errors are not cached.
    pub fn get(&self, path: &Path) -> Result<Option<String>, Error> {
        let meta = std::fs::metadata(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let (modified, len) = (meta.modified().ok(), meta.len());
        {
            let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(hit) = map.get(path) {
                if hit.modified == modified && hit.len == len {
                    return Ok(hit.name.clone());
                }
            }
        }
        let name = original_file_name_of_path(path)?;
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(
            path.to_path_buf(),
            CacheEntry {
                modified,
                len,
                name: name.clone(),
            },
        );
        Ok(name)
    }

    /// Paths cached now.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a block: header, key, padding, value, padding, children.
    fn blk(key: &str, value: Option<&str>, binary: &[u8], kids: &[Vec<u8>]) -> Vec<u8> {
        let mut b = vec![0u8; 6];
        for u in key.encode_utf16().chain([0]) {
            b.extend_from_slice(&u.to_le_bytes());
        }
        while b.len() % 4 != 0 {
            b.push(0);
        }
        let (value_len, is_text) = match value {
            Some(v) => {
                let units: Vec<u16> = v.encode_utf16().chain([0]).collect();
                for u in &units {
                    b.extend_from_slice(&u.to_le_bytes());
                }
                (units.len(), 1u16)
            }
            None => {
                b.extend_from_slice(binary);
                (binary.len(), 0u16)
            }
        };
        for k in kids {
            while b.len() % 4 != 0 {
                b.push(0);
            }
            b.extend_from_slice(k);
        }
        let len = b.len() as u16;
        b[0..2].copy_from_slice(&len.to_le_bytes());
        b[2..4].copy_from_slice(&(value_len as u16).to_le_bytes());
        b[4..6].copy_from_slice(&is_text.to_le_bytes());
        b
    }

    fn version_info(tables: &[(&str, &[(&str, &str)])]) -> Vec<u8> {
        let tables: Vec<Vec<u8>> = tables
            .iter()
            .map(|(lang, strings)| {
                let kids: Vec<Vec<u8>> = strings
                    .iter()
                    .map(|(k, v)| blk(k, Some(v), &[], &[]))
                    .collect();
                blk(lang, None, &[], &kids)
            })
            .collect();
        let sfi = blk("StringFileInfo", None, &[], &tables);
        let vfi = blk(
            "VarFileInfo",
            None,
            &[],
            &[blk("Translation", None, &[9, 4, 0xb0, 4], &[])],
        );
        blk("VS_VERSION_INFO", None, &[0u8; 52], &[sfi, vfi])
    }

    #[test]
    fn finds_original_filename_preferring_english() {
        let blob = version_info(&[
            ("040704B0", &[("OriginalFilename", "netz.exe")]),
            (
                "040904B0",
                &[
                    ("FileDescription", "Net Command"),
                    ("OriginalFilename", "net.exe"),
                ],
            ),
        ]);
        assert_eq!(
            string_from_version_info(&blob, "OriginalFilename").expect("parses"),
            Some("net.exe".into())
        );
        assert_eq!(
            string_from_version_info(&blob, "FileDescription").expect("parses"),
            Some("Net Command".into())
        );
        assert_eq!(
            string_from_version_info(&blob, "ProductName").expect("parses"),
            None
        );
    }

    #[test]
    fn truncated_and_garbage_blobs_are_errors_not_panics() {
        let blob = version_info(&[("040904B0", &[("OriginalFilename", "net.exe")])]);
        for cut in 0..blob.len() {
            // Any prefix either parses or errors; it never panics or loops.
            let _ = string_from_version_info(&blob[..cut], "OriginalFilename");
        }
        let mut bad = blob.clone();
        bad[6] = b'X';
        assert!(string_from_version_info(&bad, "OriginalFilename").is_err());
        assert!(original_file_name(b"MZ not really").is_err());
        assert!(original_file_name(b"\x7fELF").is_err());
        assert!(original_file_name(&[]).is_err());
    }
}
