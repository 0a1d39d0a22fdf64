package hopcheck.common;

/**
 * Something in the plan the shared driver code cannot use (its CA file, its proxy address): each
 * driver reports it as a {@code driver_error}, never as the client's answer.
 */
public final class PlanFault extends Exception {
  PlanFault(String message, Throwable cause) {
    super(message, cause);
  }
}
