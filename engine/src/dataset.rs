//! Reading a dataset version whole: the one read path the manifest and
//! the tables share (the lowest layer of the engine's data modules).

use arrow_array::RecordBatch;
use futures::StreamExt;
use lance::dataset::fragment::FragReadConfig;
use lance::Dataset;

/// Every live row of a dataset version, read fragment by fragment. This is
/// Lance's plain read path: no query planning, deletions applied.
pub async fn read_all(dataset: &Dataset) -> lance::Result<Vec<RecordBatch>> {
    let mut batches = Vec::new();
    for fragment in dataset.get_fragments() {
        let reader = fragment
            .open(dataset.schema(), FragReadConfig::default())
            .await?;
        let mut reads = reader.read_all(READ_BATCH_ROWS).await?;
        while let Some(read) = reads.next().await {
            batches.push(read.await?);
        }
    }
    Ok(batches)
}

const READ_BATCH_ROWS: u32 = 8192;
