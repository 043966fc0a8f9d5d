//! Listing the in-memory index of a bucket's objects: prefix, delimiter, paging.

use super::*;

/// One page of a sorted key index: S3's listing rules (prefix, delimiter grouping into
/// common prefixes, start strictly after a key, at most `max_keys` entries counting each
/// common prefix once).
pub fn list_index(objects: &BTreeMap<String, Arc<ObjectMeta>>, q: &ListQuery<'_>) -> Listing {
    use std::ops::Bound;
    let mut out = Listing::default();
    if q.max_keys == 0 {
        return out;
    }
    let start = match q.after {
        Some(a) if a >= q.prefix => Bound::Excluded(a.to_owned()),
        _ => Bound::Included(q.prefix.to_owned()),
    };
    let mut cursor = start;
    'outer: loop {
        let mut advanced = None;
        for (key, meta) in objects.range::<String, _>((cursor.clone(), Bound::Unbounded)) {
            if !key.starts_with(q.prefix) {
                break 'outer;
            }
            let grouped = q.delimiter.filter(|d| !d.is_empty()).and_then(|d| {
                key[q.prefix.len()..]
                    .find(d)
                    .map(|i| &key[..q.prefix.len() + i + d.len()])
            });
            if out.objects.len() + out.common_prefixes.len() == q.max_keys {
                out.truncated = true;
                break 'outer;
            }
            match grouped {
                Some(cp) => {
                    if q.after.is_some_and(|a| a >= cp && a.starts_with(cp)) {
                        // Resuming within a group already returned: skip past it.
                    } else {
                        out.common_prefixes.push(cp.to_owned());
                        out.last = Some(cp.to_owned());
                    }
                    // Jump past every key in this group.
                    let mut next = cp.to_owned();
                    next.push(char::MAX);
                    advanced = Some(Bound::Excluded(next));
                    break;
                }
                None => {
                    out.objects.push((**meta).clone());
                    out.last = Some(key.clone());
                }
            }
        }
        match advanced {
            Some(b) => cursor = b,
            None => break,
        }
    }
    out
}
