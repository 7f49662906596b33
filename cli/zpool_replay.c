#include "cli.h"
int cmd_zpool_replay(int argc, char **argv) { return 1; }
