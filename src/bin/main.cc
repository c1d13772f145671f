#include "cli/cli.h"

int main(int argc, char** argv) { return kumo::cli::Run(argc, argv); }
