#include "cli.hpp"

int main(int argc, char** argv) { return tdxkit::cli::run(argc, argv); }
