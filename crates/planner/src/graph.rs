//! The unit graph: built from `(dependency, dependent)` edges, checked for cycles (Tarjan's
//! SCC, every cycle reported with all its units), then sealed into an acyclic graph that can
//! only be walked; plus the critical path.

use std::cmp::Reverse;

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

/// A graph under construction: node `i` is unit `i`; an edge `a → b` means `b` waits for `a`.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    graph: DiGraph<usize, ()>,
}

impl GraphBuilder {
    pub fn new(nodes: usize) -> Self {
        let mut graph = DiGraph::with_capacity(nodes, nodes * 2);
        for i in 0..nodes {
            graph.add_node(i);
        }
        Self { graph }
    }

    /// `dependent` waits for `dependency` (duplicates are ignored).
    pub fn add_edge(&mut self, dependency: usize, dependent: usize) {
        let (a, b) = (NodeIndex::new(dependency), NodeIndex::new(dependent));
        if a.index() < self.graph.node_count()
            && b.index() < self.graph.node_count()
            && self.graph.find_edge(a, b).is_none()
        {
            self.graph.add_edge(a, b, ());
        }
    }

    /// Every cycle: the nodes of each strongly connected component with more than one node
    /// (or a self-loop), sorted; cycles sorted by their first node.
    pub fn cycles(&self) -> Vec<Vec<usize>> {
        let mut out: Vec<Vec<usize>> = tarjan_scc(&self.graph)
            .into_iter()
            .filter(|scc| {
                scc.len() > 1
                    || scc
                        .first()
                        .is_some_and(|n| self.graph.find_edge(*n, *n).is_some())
            })
            .map(|scc| {
                let mut v: Vec<usize> = scc.into_iter().map(NodeIndex::index).collect();
                v.sort_unstable();
                v
            })
            .collect();
        out.sort();
        out
    }

    /// Seals the graph; `Err` with every cycle when there is one (looked for only when the
    /// topological sort finds that there is).
    pub fn seal(self) -> Result<SealedGraph, Vec<Vec<usize>>> {
        let order = match toposort(&self.graph, None) {
            Ok(o) => o.into_iter().map(NodeIndex::index).collect(),
            Err(_) => return Err(self.cycles()),
        };
        Ok(SealedGraph {
            graph: self.graph,
            order,
        })
    }
}

/// An acyclic unit graph that can only be walked.
#[derive(Debug, Clone, Default)]
pub struct SealedGraph {
    graph: DiGraph<usize, ()>,
    order: Vec<usize>,
}

impl SealedGraph {
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// Nodes in a topological order (dependencies first).
    pub fn topological(&self) -> &[usize] {
        &self.order
    }

    /// The nodes `n` waits for, ascending.
    pub fn dependencies(&self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .graph
            .edges_directed(NodeIndex::new(n), petgraph::Direction::Incoming)
            .map(|e| e.source().index())
            .collect();
        v.sort_unstable();
        v
    }

    /// The nodes waiting for `n`, ascending.
    pub fn dependents(&self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .graph
            .edges_directed(NodeIndex::new(n), petgraph::Direction::Outgoing)
            .map(|e| e.target().index())
            .collect();
        v.sort_unstable();
        v
    }

    /// Every edge `(dependency, dependent)`, sorted.
    pub fn edges(&self) -> Vec<(usize, usize)> {
        let mut v: Vec<(usize, usize)> = self
            .graph
            .edge_references()
            .map(|e| (e.source().index(), e.target().index()))
            .collect();
        v.sort_unstable();
        v
    }

    /// The longest chain of dependent nodes (by count), first to last. Ties go to the chain
    /// whose nodes have the smallest keys, compared from the end.
    pub fn critical_path<K: Ord>(&self, key: impl Fn(usize) -> K) -> Vec<usize> {
        let n = self.graph.node_count();
        let mut len = vec![0usize; n];
        let mut pred: Vec<Option<usize>> = vec![None; n];
        for &v in &self.order {
            let mut best: Option<usize> = None;
            // The best of the dependencies whatever order they come in (equal keys: the
            // smaller node).
            let deps = self
                .graph
                .edges_directed(NodeIndex::new(v), petgraph::Direction::Incoming)
                .map(|e| e.source().index());
            for d in deps {
                best = match best {
                    None => Some(d),
                    Some(b)
                        if (len[d], Reverse(key(d)), Reverse(d))
                            > (len[b], Reverse(key(b)), Reverse(b)) =>
                    {
                        Some(d)
                    }
                    keep => keep,
                };
            }
            len[v] = 1 + best.map(|b| len[b]).unwrap_or(0);
            pred[v] = best;
        }
        let mut end: Option<usize> = None;
        for v in 0..n {
            end = match end {
                None => Some(v),
                Some(e) if len[v] > len[e] || (len[v] == len[e] && key(v) < key(e)) => Some(v),
                keep => keep,
            };
        }
        let mut path = Vec::new();
        let mut cur = end;
        while let Some(c) = cur {
            path.push(c);
            cur = pred[c];
        }
        path.reverse();
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cycle_is_reported_with_all_nodes() {
        let mut g = GraphBuilder::new(7);
        // 0 → 1 → 2 → 0, 3 → 4 → 3, 5 self-loop, 6 alone
        g.add_edge(0, 1);
        g.add_edge(1, 2);
        g.add_edge(2, 0);
        g.add_edge(3, 4);
        g.add_edge(4, 3);
        g.add_edge(5, 5);
        g.add_edge(2, 6);
        assert_eq!(g.cycles(), vec![vec![0, 1, 2], vec![3, 4], vec![5]]);
        assert!(g.seal().is_err());
    }

    #[test]
    fn critical_path_is_longest_chain_ties_by_key() {
        let mut g = GraphBuilder::new(6);
        // 0 → 1 → 2 ; 3 → 4 → 5 ; both length 3; keys make the second win.
        g.add_edge(0, 1);
        g.add_edge(1, 2);
        g.add_edge(3, 4);
        g.add_edge(4, 5);
        let s = g.seal().unwrap_or_default();
        assert_eq!(s.critical_path(|i| i), vec![0, 1, 2]);
        assert_eq!(s.critical_path(|i| 10 - i), vec![3, 4, 5]);
        let mut g = GraphBuilder::new(4);
        g.add_edge(0, 3);
        g.add_edge(1, 2);
        g.add_edge(2, 3);
        let s = g.seal().unwrap_or_default();
        assert_eq!(s.critical_path(|i| i), vec![1, 2, 3]);
        assert_eq!(s.dependencies(3), vec![0, 2]);
        assert_eq!(s.dependents(1), vec![2]);
    }
}
