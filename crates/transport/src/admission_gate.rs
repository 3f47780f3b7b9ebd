//! Who the TLS verifiers admit: the node's current [`Admission`], replaced
//! whole when a revocation list arrives.

use std::sync::{Arc, RwLock};

use tacnode_domain::Admission;

/// Shared by the verifiers of every connection; read once per handshake.
#[derive(Debug, Clone, Default)]
pub(crate) struct AdmissionGate(Arc<RwLock<Arc<Admission>>>);

impl AdmissionGate {
    pub(crate) fn new(admission: Admission) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(admission))))
    }

    /// The admission in force.
    pub(crate) fn current(&self) -> Arc<Admission> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces it for every handshake from now on.
    pub(crate) fn set(&self, admission: Arc<Admission>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = admission;
    }
}
