"""Reading inputs and writing outputs: the sources and sinks of a pipeline.

- :mod:`.sources`: a Hub id, a local file or folder, or a data set / table in memory, read as batches that
  know their place in the input (canonical UltraFeedback, or the input's own rows);
- :mod:`.tables`: local tables in every supported format (parquet, JSON lines, JSON, ``save_to_disk``);
- :mod:`.chunks`: local parquet cut into row-group runs that any process reads on its own;
- :mod:`.atomic`: outputs that appear only when complete, with fixed row groups;
- :mod:`.sinks`: where a pipeline's streams go (files beside each other, or tables in memory);
- :mod:`.paths`: output kinds, the files beside an output, and the rules that protect inputs and folders.
"""

from notus_data.io.atomic import AtomicWriter, atomic_path, write_report, write_table
from notus_data.io.chunks import Chunk, plan_chunks, read_chunk
from notus_data.io.paths import (
    DEFAULT_BATCH_SIZE,
    JSON_SUFFIXES,
    OUTPUT_MARKER,
    ROW_GROUP_SIZE,
    check_not_inputs,
    folder_owner,
    guard_outputs,
    is_local,
    looks_like_hub_id,
    output_kind,
    report_path,
    sidecar_path,
    write_marker,
)
from notus_data.io.sources import (
    DEFAULT_HUB_ID,
    DEFAULT_REVISION,
    LoadOptions,
    RowsSource,
    SourceBatch,
    UltraFeedbackSource,
    from_hub,
    input_paths,
    load_rows,
    load_ultrafeedback,
    open_reader,
)
from notus_data.io.tables import TableSource, iter_table_batches, prefetch, projected_paths, read_table

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_HUB_ID",
    "DEFAULT_REVISION",
    "JSON_SUFFIXES",
    "OUTPUT_MARKER",
    "ROW_GROUP_SIZE",
    "AtomicWriter",
    "Chunk",
    "LoadOptions",
    "RowsSource",
    "SourceBatch",
    "TableSource",
    "UltraFeedbackSource",
    "atomic_path",
    "check_not_inputs",
    "folder_owner",
    "from_hub",
    "guard_outputs",
    "input_paths",
    "is_local",
    "iter_table_batches",
    "load_rows",
    "load_ultrafeedback",
    "looks_like_hub_id",
    "open_reader",
    "output_kind",
    "plan_chunks",
    "prefetch",
    "projected_paths",
    "read_chunk",
    "read_table",
    "report_path",
    "sidecar_path",
    "write_marker",
    "write_report",
    "write_table",
]
