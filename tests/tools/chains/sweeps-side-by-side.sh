# Two checks that each run a sweep side by side: device-chains.sh --check notes it (not a refusal).
export CHECK_TESTS='every config of the format matrix*;tensor_gemv matches*;every config tensor_wgmma takes*,packed zero points*'
step 100 checks
