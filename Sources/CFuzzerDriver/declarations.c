// CFuzzerDriver has no code of its own: its header declares libFuzzer's LLVMFuzzerRunDriver
// for Swift. SwiftPM wants at least one source file in a C target.
#include "CFuzzerDriver.h"
