//! The integrated operations of a group, each with its causal history as
//! a bit set over the indices of the operations integrated before it.
//! Only valid operations integrate: their authors had the authority they
//! need in the view their causal history resolves to.

use super::group_id::OpId;
use super::group_op::GroupOp;

/// One integrated operation.
#[derive(Clone, Debug)]
pub(super) struct Node {
    pub(super) op: GroupOp,
    pub(super) id: OpId,
    /// Bit `j` set: operation `j` is a (strict) ancestor. Only indices
    /// below this node's own are ever set: parents integrate first.
    pub(super) ancestors: Vec<u64>,
}

/// Whether bit `j` of `set` is set.
pub(super) fn has(set: &[u64], j: usize) -> bool {
    set.get(j / 64).is_some_and(|w| w & (1u64 << (j % 64)) != 0)
}

/// Sets bit `j` of `set`, growing it as needed.
pub(super) fn set(set: &mut Vec<u64>, j: usize) {
    let word = j / 64;
    if set.len() <= word {
        set.resize(word + 1, 0);
    }
    if let Some(w) = set.get_mut(word) {
        *w |= 1u64 << (j % 64);
    }
}

/// `into |= from`, growing `into` as needed.
pub(super) fn union(into: &mut Vec<u64>, from: &[u64]) {
    if into.len() < from.len() {
        into.resize(from.len(), 0);
    }
    for (a, b) in into.iter_mut().zip(from) {
        *a |= b;
    }
}

/// Whether node `a` is a strict ancestor of node `b`.
pub(super) fn is_ancestor(nodes: &[Node], a: usize, b: usize) -> bool {
    a < b && nodes.get(b).is_some_and(|n| has(&n.ancestors, a))
}

/// Whether nodes `a` and `b` are distinct and neither precedes the other.
pub(super) fn concurrent(nodes: &[Node], a: usize, b: usize) -> bool {
    a != b && !is_ancestor(nodes, a, b) && !is_ancestor(nodes, b, a)
}
