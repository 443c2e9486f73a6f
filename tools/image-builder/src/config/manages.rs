//! A partition's `manages`: the other partitions it may observe and control through the manager calls. Each entry
//! names another partition of the file, once; a partition never manages itself (it restarts itself with PSCI
//! SYSTEM_RESET, and stopping itself is SYSTEM_OFF).

use std::collections::BTreeMap;

use super::common::{reference, shown, Lookup, Twice};
use super::raw::*;
use crate::diag::{Diag, Report, Span};

/// Partition `i`'s `manages`, as indices into the file's partitions in the order written; `None` when an entry is
/// wrong. `partitions` looks up every `[[partition]]` of the file, whether or not it passed its own checks.
pub(super) fn check_manages(
    p: &RawPartition,
    i: usize,
    partitions: &mut Lookup<'_>,
    r: &mut Report,
) -> Option<Vec<usize>> {
    let Some(list_) = &p.manages else {
        return Some(Vec::new());
    };
    let name = p.name.get_ref();
    let mut ok = true;
    let mut out = Vec::new();
    let mut listed: BTreeMap<usize, Span> = BTreeMap::new();
    for (j, entry) in list_.get_ref().iter().enumerate() {
        let field = format!("partition[{i}].manages[{j}]");
        if entry.get_ref() == name {
            r.push(
                Diag::error(field, entry.span(), format!("a partition cannot manage itself: `{}`", shown(name)))
                    .label("the partition's own name")
                    .hint(
                        "`manages` lists other partitions; a partition restarts itself with PSCI SYSTEM_RESET \
                         (and stops itself with SYSTEM_OFF): remove its own name",
                    ),
            );
            ok = false;
            continue;
        }
        let twice = Twice {
            message: format!(
                "partition `{}` is listed twice in `manages` of `{}`",
                shown(entry.get_ref()),
                shown(name)
            ),
            first: "first listed here",
            hint: "list each managed partition once",
        };
        match reference(partitions, "partition", entry, field, &mut listed, twice, r) {
            Some(index) => out.push(index),
            None => ok = false,
        }
    }
    ok.then_some(out)
}
