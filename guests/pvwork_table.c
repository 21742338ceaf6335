/* pvwork.c built with the call table: the build flag PV_CALL_TABLE selects pv.h's table calls. */
#define PV_CALL_TABLE 1
#include "pvwork.c"
