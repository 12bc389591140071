# Sourced by device-run.sh and device-chains.sh: pack_out OUT SUMMARY packs everything under OUT into
# OUT/all.tgz, the files themselves removed, for a transport that takes few files back; the summary
# file SUMMARY (outside OUT) goes in as summary.txt and stays beside the archive.
pack_out() {
  local out=$1 summary=$2 archive
  cp "$summary" "$out/summary.txt"
  archive=$(mktemp)  # outside $out, which it packs
  if tar czf "$archive" -C "$out" . && find "$out" -mindepth 1 -delete && mv "$archive" "$out/all.tgz"; then
    cp "$summary" "$out/summary.txt"
    echo "packed into $out/all.tgz (summary.txt beside it)"
  else
    echo "pack FAILED: the files stay as they are"
  fi
}
