/* The UCX headers that crates/ucx-sys binds (UCP and the UCS types it uses). */
#include <ucp/api/ucp.h>
