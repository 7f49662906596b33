#include "cli.h"
int cmd_demo(int argc, char **argv) { return 1; }
