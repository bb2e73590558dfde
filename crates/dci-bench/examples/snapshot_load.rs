//! Time to restore a fact-cache snapshot: `cargo run --release -p dci-bench --example snapshot_load -- facts.bin`

use std::sync::Arc;
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let path = std::env::args().nth(1).expect("give the snapshot file");
    let store = dci_metrics::MetricStore::new(
        Arc::new(dci_metrics::Catalog::default()),
        vec![],
        &dci_metrics::StoreConfig::default(),
    )
    .expect("store");
    let started = Instant::now();
    let report = store.load_snapshot(std::path::Path::new(&path)).expect("loads");
    println!("{report:?} in {:.3} s", started.elapsed().as_secs_f64());
}
