/* daemon/storage: the handler tables of the storage area's files. */
#pragma once

#include "daemon/core/pved.h"

extern const pved_handler pved_handlers_storage[];
extern const pved_handler pved_handlers_upload[];
extern const pved_task_kind pved_tasks_storage[];
extern const pved_task_kind pved_tasks_upload[];
