//! The operations of one transaction as a tree, parents before children:
//! what else the transaction that made an operation took, in the order
//! the foreign keys give (an order, then its lines, then their notes).

use std::collections::{HashMap, HashSet};

use tokio_postgres::{Client, GenericClient};

use super::{OpsError, catalog};
use crate::journal::{self, LogFilter, Operation};

/// Operations of one transaction shown at most (a bulk job may journal
/// thousands; the page says when some are left out).
pub const MAX_SHOWN: i64 = 500;

/// One operation in the tree.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Node {
    pub operation: Operation,
    /// 0 for a root.
    pub depth: usize,
}

/// One transaction's operations, as shown.
#[derive(Debug)]
pub struct Tree {
    pub nodes: Vec<Node>,
    /// More than `MAX_SHOWN` operations: the first ones are shown.
    pub more: bool,
    /// The operation looked at was not among them, and was added.
    pub added_current: bool,
}

/// The operations of `current`'s transaction, as a tree in foreign-key
/// order: the first `MAX_SHOWN`, and `current` always.
pub async fn transaction(client: &Client, current: &Operation) -> Result<Tree, OpsError> {
    let filter = LogFilter {
        txid: Some(current.txid),
        oldest_first: true,
        limit: MAX_SHOWN + 1,
        ..LogFilter::default()
    };
    let mut operations = journal::operations(client, &filter).await?;
    let more = operations.len() > MAX_SHOWN as usize;
    operations.truncate(MAX_SHOWN as usize);
    let added_current = !operations.iter().any(|op| op.id == current.id);
    if added_current {
        operations.push(current.clone());
    }
    let (order, references) = foreign_key_order(client, &operations).await?;
    Ok(Tree {
        nodes: arrange(operations, &order, &references),
        more,
        added_current,
    })
}

/// The operations' tables parents first, and which references which
/// (child, parent), as `schema.name`.
async fn foreign_key_order(
    client: &impl GenericClient,
    operations: &[Operation],
) -> Result<(Vec<String>, Vec<(String, String)>), OpsError> {
    let mut names: HashMap<u32, String> = HashMap::new();
    let mut seen = HashSet::new();
    for op in operations {
        if !seen.insert(op.table.as_str()) {
            continue;
        }
        let (schema, name) = op.table.rsplit_once('.').unwrap_or(("", &op.table));
        if let Some(table) = catalog::table(client, schema, name).await? {
            names.insert(table.oid, table.display());
        }
    }
    let oids: Vec<u32> = names.keys().copied().collect();
    let keys = catalog::foreign_keys(client, &oids).await?;
    let order = catalog::parents_first(&oids, &keys)
        .iter()
        .filter_map(|oid| names.get(oid).cloned())
        .collect();
    let references = keys
        .iter()
        .filter_map(|k| Some((names.get(&k.child)?.clone(), names.get(&k.parent)?.clone())))
        .collect();
    Ok((order, references))
}

/// The tree, depth first. An operation's parent is the soft delete whose
/// cascade carried it, or else the first operation on a table it
/// references; roots and siblings go parents' tables first, then in
/// journal order.
pub fn arrange(
    operations: Vec<Operation>,
    tables_first: &[String],
    references: &[(String, String)],
) -> Vec<Node> {
    let rank = |table: &str| {
        tables_first
            .iter()
            .position(|t| t == table)
            .unwrap_or(usize::MAX)
    };
    let parent = parents(&operations, &rank, references);
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); operations.len()];
    let mut roots = Vec::new();
    for (at, parent) in parent.iter().enumerate() {
        match parent {
            Some(p) if *p != at => children[*p].push(at),
            _ => roots.push(at),
        }
    }
    let key = |&at: &usize| (rank(&operations[at].table), operations[at].id);
    roots.sort_by_key(key);
    children.iter_mut().for_each(|c| c.sort_by_key(key));
    let mut placed = vec![None; operations.len()];
    let mut order = Vec::with_capacity(operations.len());
    for root in roots {
        visit(root, 0, &children, &mut placed, &mut order);
    }
    // Operations caught in a cycle of parents (foreign keys both ways)
    // are shown as roots rather than lost.
    for at in 0..operations.len() {
        visit(at, 0, &children, &mut placed, &mut order);
    }
    let mut slots: Vec<Option<Operation>> = operations.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|(at, depth)| {
            Some(Node {
                operation: slots[at].take()?,
                depth,
            })
        })
        .collect()
}

/// Each operation's parent (an index into `operations`): the soft delete
/// whose cascade carried it, or else the first operation on a table it
/// references that comes earlier in foreign-key order.
fn parents(
    operations: &[Operation],
    rank: &impl Fn(&str) -> usize,
    references: &[(String, String)],
) -> Vec<Option<usize>> {
    let refers = |child: &str, parent: &str| {
        child != parent && references.iter().any(|(c, p)| c == child && p == parent)
    };
    operations
        .iter()
        .map(|op| {
            let cascade = op
                .cascaded_from
                .and_then(|from| operations.iter().position(|o| o.id == from));
            cascade.or_else(|| {
                operations
                    .iter()
                    .position(|o| refers(&op.table, &o.table) && rank(&o.table) < rank(&op.table))
            })
        })
        .collect()
}

/// Places `at` and, under it, its children not yet placed.
fn visit(
    at: usize,
    depth: usize,
    children: &[Vec<usize>],
    placed: &mut [Option<usize>],
    order: &mut Vec<(usize, usize)>,
) {
    if placed[at].is_some() {
        return;
    }
    placed[at] = Some(depth);
    order.push((at, depth));
    for &child in &children[at] {
        visit(child, depth + 1, children, placed, order);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Action;

    fn op(id: i64, table: &str, cascaded_from: Option<i64>) -> Operation {
        Operation {
            id,
            at: String::new(),
            txid: 1,
            db_user: String::new(),
            application_name: String::new(),
            database: String::new(),
            client_addr: None,
            connection_id: None,
            path: None,
            table: table.to_owned(),
            action: Action::SoftDelete,
            row_count: 1,
            sql: String::new(),
            reason: None,
            cascaded_from,
        }
    }

    fn shape(nodes: &[Node]) -> Vec<(i64, usize)> {
        nodes.iter().map(|n| (n.operation.id, n.depth)).collect()
    }

    #[test]
    fn children_go_under_their_parents_tables() {
        // An ORM deleting leaves first: lines, then orders, then customers.
        let ops = vec![
            op(1, "s.lines", None),
            op(2, "s.orders", None),
            op(3, "s.customers", None),
            op(4, "s.notes", None),
        ];
        let order = ["s.customers", "s.notes", "s.orders", "s.lines"].map(String::from);
        let refs = [("s.lines", "s.orders"), ("s.orders", "s.customers")]
            .map(|(c, p)| (c.to_owned(), p.to_owned()));
        let tree = arrange(ops, &order, &refs);
        assert_eq!(shape(&tree), vec![(3, 0), (2, 1), (1, 2), (4, 0)]);
    }

    #[test]
    fn a_cascade_hangs_under_the_delete_that_carried_it() {
        let ops = vec![op(10, "s.orders", None), op(11, "s.lines", Some(10))];
        let tree = arrange(ops, &[], &[]);
        assert_eq!(shape(&tree), vec![(10, 0), (11, 1)]);
    }

    #[test]
    fn a_cycle_loses_nothing() {
        let ops = vec![op(1, "s.a", Some(2)), op(2, "s.b", Some(1))];
        let tree = arrange(ops, &[], &[]);
        assert_eq!(tree.len(), 2);
    }
}
