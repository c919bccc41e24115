//! The order an undo works in: newest operation first, consecutive
//! deletes together (undelete plans them as one), consecutive updates
//! together. Pure.

use super::select::{Step, UpdateOp};
use crate::ops::select::Removal;

/// Operations undone together.
#[derive(Clone, Debug)]
pub enum Run {
    /// Deletes, brought back as one undelete.
    Deletes(Vec<Removal>),
    /// Updates, reverted one by one, newest first.
    Updates(Vec<UpdateOp>),
}

/// `steps` (newest first) cut into runs, in the same order: each run sees
/// what the runs before it did (a row updated then soft-deleted comes
/// back first, then its update is reverted).
pub fn runs(steps: Vec<Step>) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for step in steps {
        match (runs.last_mut(), step) {
            (Some(Run::Deletes(run)), Step::Delete(r)) => run.push(r),
            (Some(Run::Updates(run)), Step::Update(u)) => run.push(u),
            (_, Step::Delete(r)) => runs.push(Run::Deletes(vec![r])),
            (_, Step::Update(u)) => runs.push(Run::Updates(vec![u])),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::select::RemovalKind;

    fn delete(id: i64) -> Step {
        Step::Delete(Removal {
            id,
            txid: 1,
            schema: "public".into(),
            table: "notes".into(),
            kind: RemovalKind::Hard,
        })
    }

    fn update(id: i64) -> Step {
        Step::Update(UpdateOp {
            id,
            txid: 1,
            schema: "public".into(),
            table: "notes".into(),
        })
    }

    fn shape(runs: &[Run]) -> Vec<(char, Vec<i64>)> {
        runs.iter()
            .map(|r| match r {
                Run::Deletes(d) => ('d', d.iter().map(|r| r.id).collect()),
                Run::Updates(u) => ('u', u.iter().map(|u| u.id).collect()),
            })
            .collect()
    }

    #[test]
    fn consecutive_operations_of_a_kind_run_together_newest_first() {
        let steps = vec![
            update(9),
            update(8),
            delete(7),
            delete(6),
            update(5),
            delete(4),
        ];
        assert_eq!(
            shape(&runs(steps)),
            [
                ('u', vec![9, 8]),
                ('d', vec![7, 6]),
                ('u', vec![5]),
                ('d', vec![4])
            ]
        );
    }

    #[test]
    fn nothing_makes_no_runs() {
        assert!(runs(Vec::new()).is_empty());
        assert_eq!(shape(&runs(vec![delete(1)])), [('d', vec![1])]);
    }
}
